"""The sentiment benchmark's loader: a val-only run never opens the test split (it has been read a
counted number of times; README "Sentiment"), and the English files' literal escapes are decoded."""
from __future__ import annotations

import pytest

from bench.sentiment import load


def _write(root, folder, split, lines, labels):
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{split}_text.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + "\n", encoding="utf-8")


def test_a_val_only_load_never_opens_the_test_split(tmp_path):
    for folder in ("english", "spanish"):
        for split in ("train", "val"):
            _write(tmp_path, folder, split, ["I can\\u2019t stand this", "qué bien"], [0, 2])
    data = load(tmp_path, ("train", "val"))
    assert set(data) == {(lang, split) for lang in ("en", "es") for split in ("train", "val")}
    texts, labels = data[("en", "train")]
    assert texts[0] == "I can\u2019t stand this" and list(labels) == [0, 2]
    with pytest.raises(FileNotFoundError):  # no test files here: the full load would need them
        load(tmp_path)


def test_a_split_whose_labels_do_not_match_its_texts_stops_the_bench(tmp_path):
    _write(tmp_path, "english", "train", ["a", "b"], [1])
    with pytest.raises(SystemExit, match="2 texts but 1 labels"):
        load(tmp_path, ("train",))
