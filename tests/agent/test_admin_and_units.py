"""Admin access (Operators only), sentiment and language units, the scope classifier."""
from __future__ import annotations

import numpy as np
import pytest
from django.contrib import admin
from django.test import RequestFactory

from apps.agent.classifier import OOS, ScopeClassifier
from apps.agent.language import detect_language
from apps.agent.models import AgentSettings, Topic
from apps.agent.sentiment import sentiment_score


@pytest.mark.django_db
def test_only_operators_configure_the_agent(cast):
    model_admin = admin.site._registry[Topic]
    for user, allowed in [(cast.operator, True), (cast.collab_a, False), (cast.outsider, False)]:
        request = RequestFactory().get("/admin/")
        request.user = user
        assert model_admin.has_module_permission(request) is allowed
        assert model_admin.has_change_permission(request) is allowed
    settings_admin = admin.site._registry[AgentSettings]
    request = RequestFactory().get("/admin/")
    request.user = cast.operator
    assert settings_admin.has_delete_permission(request) is False


@pytest.mark.parametrize("text,sign", [
    ("This is terrible, worst service ever!!", -1), ("Estoy harto, son unos inútiles", -1),
    ("Thanks, that was very helpful", 1), ("¡Genial, muchas gracias!", 1),
    ("How do I file a claim?", 0), ("¿Cómo hago un reclamo?", 0), ("not bad at all", 1),
])
def test_sentiment_english_and_spanish(text, sign):
    score = sentiment_score(text)
    if sign < 0:
        assert score <= -0.35
    elif sign > 0:
        assert score > 0
    else:
        assert score > -0.35


@pytest.mark.parametrize("text,lang", [("I want to talk to a human", "en"), ("quiero hablar con un humano", "es"),
                                       ("¿Cuánto cuesta la instalación?", "es"), ("How much is the installation?", "en")])
def test_language_detection(text, lang):
    assert detect_language(text)[0] == lang


@pytest.mark.parametrize("text,lang", [
    # place names are in the language of where they are, not of who writes
    ("I live in Río Grande, Tierra del Fuego", "en"), ("My order to Neuquén, Río Negro", "en"),
    ("What are the hours of the San Martín de los Andes store?", "en"),
    ("- Rest of Buenos Aires province, Córdoba, Santa Fe, Entre Ríos and Mendoza — Delivery time: 2–4 business "
     "days\n- NOA, NEA, San Juan, San Luis and La Pampa — Delivery time: 3–6 business days\n"
     "- Neuquén, Río Negro, Chubut and Santa Cruz\n- Tierra del Fuego", "en"),
    # the customer's own words still decide, and a name is read when nothing else does
    ("Soy de Córdoba y quiero saber el precio", "es"), ("¿Cuánto tarda a Córdoba?", "es"),
    ("Me mudo a Buenos Aires", "es"), ("Río Grande queda lejos?", "es"),
])
def test_language_detection_reads_place_names_aside(text, lang):
    assert detect_language(text)[0] == lang


def _clustered(centers: dict, rng, n: int = 20) -> tuple[list[str], list[str], np.ndarray]:
    """``n`` unit vectors around each class's centre, with their texts and labels."""
    texts, labels, vectors = [], [], []
    for label, center in centers.items():
        for i in range(n):
            v = center + rng.normal(scale=0.3, size=len(center))
            vectors.append(v / np.linalg.norm(v))
            texts.append(f"{label} example {i}")
            labels.append(label)
    return texts, labels, np.array(vectors)


def test_scope_classifier_with_oos_class():
    rng = np.random.default_rng(0)
    centers = {"a": rng.normal(size=16), "b": rng.normal(size=16), OOS: rng.normal(size=16)}
    texts, labels, vectors = _clustered(centers, rng)
    clf = ScopeClassifier(C=10).fit(texts, labels, vectors)
    probe = centers["a"] / np.linalg.norm(centers["a"])
    pred = clf.predict(["a example new"], probe[None, :])[0]
    assert pred.label == "a" and pred.in_scope
    far = centers[OOS] / np.linalg.norm(centers[OOS])
    clf.tune_threshold(texts, labels, vectors, max_in_scope_loss=0.05)
    assert clf.predict([f"{OOS} example new"], far[None, :])[0].in_scope is False


def test_an_absorbing_class_gives_its_probability_to_every_class_but_the_one_it_guards():
    """The hard negatives of a class (``ScopeClassifier.absorb``): near them, the guarded class loses
    what the absorbing class took, the others share it in proportion, and the absorbing class is never
    a label."""
    rng = np.random.default_rng(1)
    centers = {"human": rng.normal(size=16), "topic:a": rng.normal(size=16), "topic:b": rng.normal(size=16)}
    centers["someone"] = centers["human"] * 0.6 + centers["topic:a"] * 0.4  # between a request and topic a
    texts, labels, vectors = _clustered(centers, rng)
    probe = centers["someone"] / np.linalg.norm(centers["someone"])
    plain = ScopeClassifier(C=10).fit(texts, labels, vectors)
    guarded = ScopeClassifier(C=10, absorb={"someone": "human"}).fit(texts, labels, vectors)
    before = plain.predict(["someone example new"], probe[None, :])[0]
    after = guarded.predict(["someone example new"], probe[None, :])[0]
    assert before.label == "someone"          # without the rule the hard negative is a label of its own
    assert after.label != "someone" and after.prob("someone") == 0.0
    assert after.prob("human") == pytest.approx(before.prob("human"))   # nothing of it goes to the guarded class
    others = ("topic:a", "topic:b")
    gained = sum(after.prob(c) for c in others) - sum(before.prob(c) for c in others)
    assert gained == pytest.approx(before.prob("someone"))
    assert after.prob("topic:a") / after.prob("topic:b") == pytest.approx(before.prob("topic:a") / before.prob("topic:b"))
    assert sum(after.probabilities.values()) == pytest.approx(1.0)
    # a message far from the hard negatives reads the same with or without the rule
    far = centers["topic:b"] / np.linalg.norm(centers["topic:b"])
    assert guarded.predict(["topic:b example new"], far[None, :])[0].label == "topic:b"
    assert guarded._params()["absorb"] == {"someone": "human"}
