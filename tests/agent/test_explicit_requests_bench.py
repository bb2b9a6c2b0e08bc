"""The explicit-request benchmark's texts: a report figure is only a figure when none of its texts is a
training example of the classifier it scores (README "Messages about someone that ask for no one")."""
from __future__ import annotations

import pytest

from apps.agent import builtin
from bench.explicit_requests import DATA, rates, read_texts


def test_no_benchmark_text_is_a_training_example():
    texts = read_texts()
    assert {s for s, _k, _t in texts} == {"dev", "report"}
    assert {k for _s, k, _t in texts} == {"person", "not"}
    trained = {t.strip().lower() for examples in builtin.BUILTIN_EXAMPLES.values() for t in examples}
    assert [t for _s, _k, t in texts if t.lower() in trained] == []


def test_a_kind_other_than_person_or_not_is_an_error(tmp_path):
    bad = tmp_path / "texts.tsv"
    bad.write_text("# comment\ndev\tperson\tcan I talk to someone?\nreport\tmaybe\thello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="person or not"):
        read_texts(bad)
    assert DATA.is_file()


def test_rates_count_requests_read_and_other_messages_read_as_requests():
    rows = [("report", "person", "a"), ("report", "person", "b"), ("report", "not", "c"), ("dev", "not", "d")]
    out = rates(rows, [0.9, 0.2, 0.6, 0.9], 0.5, "report")
    assert out == {"requests": 2, "recall": 0.5, "others": 1, "read_as_request": 1, "false_rate": 1.0}
