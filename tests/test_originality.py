"""The originality check: copied spans and the fraction of new n-grams, against brute force."""
import json
import random
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ANNA, ROOT
from test_cli import run
from wordlstm import NgramIndex, load_corpus, originality, tokenize


@pytest.fixture(scope="module")
def anna():
    return load_corpus(ANNA)


def test_a_verbatim_slice_of_the_corpus_is_not_new_and_is_found_where_it_is(anna):
    piece = anna.ids[12_345:12_745].tolist()
    report = originality(anna.ids, piece, 6)
    assert report.novel_fraction == 0.0 and report.ngrams == 395
    start, end, offset = report.copied_spans[0]
    assert (start, end) == (0, 400) and anna.ids[offset:offset + 400].tolist() == piece


def test_corpus_words_shuffled_are_nearly_all_new(anna):
    words = anna.ids[:3000].tolist()
    random.Random(0).shuffle(words)
    report = originality(anna.ids, words, 6)
    assert report.novel_fraction > 0.99


def test_a_copy_inside_new_text_is_one_span(anna):
    new = anna.vocab.lookup(tokenize("zebra quantum zebra quantum zebra"))
    copied = anna.ids[5000:5010].tolist()
    report = originality(anna.ids, new + copied + new, 6)
    assert [(s, e) for s, e, _ in report.copied_spans] == [(5, 15)]
    assert report.copied(20) == [False] * 5 + [True] * 10 + [False] * 5
    assert report.ngrams == 15 and report.novel_fraction == pytest.approx(1 - 5 / 15)  # the 5 runs inside the copy


def brute_force(corpus, text, n):
    runs = {tuple(corpus[i:i + n]) for i in range(len(corpus) - n + 1)}
    return [tuple(text[i:i + n]) in runs for i in range(len(text) - n + 1)]


@settings(max_examples=60, deadline=None)
@given(corpus=st.lists(st.integers(0, 3), max_size=60), text=st.lists(st.integers(-1, 3), max_size=30),
       n=st.integers(1, 5))
def test_lookups_match_brute_force(corpus, text, n):
    found = NgramIndex(corpus, n).find(text)
    assert [f >= 0 for f in found] == brute_force(corpus, text, n)
    for i, f in enumerate(found):  # where it says a run occurs, it does
        assert f < 0 or corpus[f:f + n] == text[i:i + n]


def test_hash_collisions_never_report_a_copy(monkeypatch):
    """With a base of 1 the hash is just the sum of the ids: collisions everywhere.
    Every hit is checked against the corpus, so none of them becomes a false copy."""
    # by sys.modules: wordlstm.originality is the function, not the module
    monkeypatch.setattr(sys.modules["wordlstm.use.originality"], "_BASE", np.uint64(1))
    rng = random.Random(3)
    corpus = [rng.randrange(5) for _ in range(500)]
    text = [rng.randrange(5) for _ in range(200)]
    found = NgramIndex(corpus, 4).find(text)
    truth = brute_force(corpus, text, 4)
    assert all(truth[i] for i, f in enumerate(found) if f >= 0)  # no false positive


def test_cli_originality_prints_the_spans_as_written_or_one_json_line(tmp_path, anna):
    sample = tmp_path / "s.txt"
    passage = open(ANNA, encoding="utf-8").read()[100_000:101_000]
    sample.write_text(passage + " zebra quantum flux capacitor")
    r = run("originality.py", ANNA, sample, "--min-words", 8)
    assert r.returncode == 0, r.stderr
    summary, *spans = r.stdout.splitlines()
    assert summary.startswith("originality: ") and "8-word sequences are new" in summary and spans
    copied = spans[0].split(": ", 1)[1]
    assert copied in " ".join(passage.split())  # as the text writes it: its case, its marks against the words
    assert any(c.isupper() for c in copied) and "zebra" not in copied
    r = run("originality.py", ANNA, sample, "--min-words", 8, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["min_words"] == 8 and 0 < report["novel_fraction"] < 0.1
    assert len(report["copied_spans"]) >= 1 and report["copied_spans"][0][0] <= 1  # the cut may split a word


@pytest.mark.slow
def test_cli_generate_checks_copies(tmp_path):
    r = run("generate.py", f"{ROOT}/models/anna", "--prompt", "Happy families are", "--max-new-tokens", 60,
            "--temperature", 0, "--check-copies", ANNA)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("originality: "))
    assert "6-word sequences are new" in line
    r = run("generate.py", f"{ROOT}/models/anna", "--prompt", "Anna", "--check-copies", tmp_path / "nope.txt")
    assert r.returncode == 2 and "no such file" in r.stderr and r.stdout == ""  # before any text
