"""Where a training starts: auto's rule (wordlstm.planning.start), through the one planner."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from wordlstm import corpus_from_text, load_corpus, stream
from wordlstm.planning.planner import Ask, plan_training
from wordlstm.planning.start import MIN_COVERAGE, WARM_BELOW, choose_start
from wordlstm.serve.session import Session
from wordlstm.share.checkpoint import load_checkpoint
from wordlstm.text.tokenizer import tokenize

NAMES = {"anna", "levin", "vronsky", "kitty", "oblonsky", "stepan", "arkadyevitch", "dolly", "darya", "karenin"}
# A fixed permutation of the alphabet: a "language" sharing no word with the novel, its sizes unchanged.
CIPHER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "qwertzuiopasdfghjklyxcvbnm")


@pytest.fixture(scope="module")
def default():
    return load_checkpoint(os.path.join(ROOT, "models", "anna"))


@pytest.fixture(scope="module")
def novel():
    with open(os.path.join(ROOT, "data", "anna.txt"), encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def small(novel):
    """A small English text: the novel's first 20,000 characters without the novel's names, and a few
    names of its own (a user's text has its own)."""
    return corpus_from_text(small_text(novel), name="small.txt")


def small_text(novel):
    return " ".join(w for w in novel[:20_000].split() if not any(n in w.lower() for n in NAMES)) + \
        " Zorblat and Quenwick walked to the glimmerfen." * 3


def test_auto_starts_a_small_text_in_known_words_from_the_default_model(small, default):
    start = choose_start(small, "auto", default=default)
    assert start.source is default and start.name == "the default model"
    known = small.vocab.coverage(default.vocab)
    assert known >= MIN_COVERAGE and f"it knows {known:.0%} of your text's words" in start.why
    planned = plan_training(small, Ask(max_seconds=60), default=default)
    assert planned.start.source is default and planned.init is not None
    assert (planned.model.num_layers, planned.model.hidden_size) == (2, 256)
    assert "it starts from the default model" in planned.why
    assert planned.init.describe(planned.start.name)["coverage"] == pytest.approx(known, abs=1e-4)


def test_a_text_in_another_language_starts_new_and_says_why(small, default, novel):
    foreign = corpus_from_text(" ".join(tokenize(novel[:20_000])).translate(CIPHER), name="other.txt")
    known = foreign.vocab.coverage(default.vocab)
    assert known < MIN_COVERAGE  # punctuation only
    start = choose_start(foreign, "auto", default=default)
    assert start.source is None and start.name == "a new model"
    assert start.why == f"it starts new: the default model knows only {known:.0%} of your text's words"
    planned = plan_training(foreign, Ask(max_seconds=60), default=default)
    assert planned.init is None and start.why in planned.why


def test_a_large_text_starts_new(novel, default):
    large = corpus_from_text(novel, name="large.txt")
    assert len(large.ids) >= WARM_BELOW
    start = choose_start(large, "auto", default=default)
    assert start.source is None and "large enough" in start.why


def test_a_texts_size_is_counted_in_words_not_line_breaks(novel, default):
    """The size rule was measured on the book's tokens: a text read with its line breaks is no larger for them."""
    text = novel[: novel.rfind("\n", 0, int(len(novel) * 0.66))]
    plain, lined = (corpus_from_text(text, written=False, lines=lines) for lines in ("no", "yes"))
    assert len(plain.ids) < WARM_BELOW <= len(lined.ids)
    for corpus in (plain, lined):
        assert choose_start(corpus, "auto", default=default).name == "the default model"


def test_the_users_choice_wins(small, default, tiny_checkpoint):
    new = choose_start(small, "new", default=default)
    assert new.source is None and new.advised  # a new model where auto would have started warm
    given = load_checkpoint(tiny_checkpoint)
    assert choose_start(small, "my model", given, default).source is given
    for size, settings in (("small", {}), ("auto", {"hidden_size": 512, "embed_dim": 512})):  # another shape
        planned = plan_training(small, Ask(size, max_seconds=60, settings=settings), default=default)
        assert planned.init is None and "it starts new, in the shape asked for" in planned.why
    assert choose_start(small, "auto", default=None).why == "it starts new: there is no default model here"


def test_a_warm_start_keeps_the_texts_own_vocabulary(small, default):
    planned = plan_training(small, Ask(max_seconds=60), default=default)
    assert planned.model.vocab_size == len(small.vocab) != len(default.vocab)
    assert planned.init.vocab_size == len(small.vocab)
    assert planned.init.shared == len(small.vocab) - 3  # its own names, new to the novel, are in it too
    assert {"zorblat", "quenwick", "glimmerfen"} <= set(small.vocab.itos) and not NAMES & set(small.vocab.itos)


@pytest.mark.slow
def test_a_warm_start_writes_the_users_text_not_the_novels(novel, default, tmp_path):
    """Auto through the CLI on a small English text: it starts from the default model and says so in its
    summary, config.json and card; the model's vocabulary, written forms and example prompts are the text's,
    and what it writes holds none of the novel's names."""
    path = tmp_path / "small.txt"
    path.write_text(small_text(novel), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(path), "--out",
                        str(tmp_path / "m"), "--epochs", "1", "--sample-words", "0"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "it starts from the default model: it knows" in r.stderr and "; started from the default model)" in r.stdout
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["start"] == "the default model" and config["init_from"]["source"] == "the default model"
    assert "Started from the default model (a warm start)" in (tmp_path / "m" / "README.md").read_text()
    ckpt = load_checkpoint(tmp_path / "m")
    corpus = load_corpus(str(path))
    assert ckpt.vocab.itos == corpus.vocab.itos and ckpt.vocab.forms == corpus.vocab.forms
    session = Session(default=default, examples=["Anna, and the prince"])
    session.corpus, session.ckpt = corpus, ckpt
    assert session.prompts() == corpus.openings() and not any(n in " ".join(session.prompts()).lower() for n in NAMES)
    text = "".join(stream(ckpt.model, ckpt.vocab, ckpt.vocab.encode(session.prompts()[0]), max_new_tokens=2000, seed=0))
    assert len(text.split()) > 1000 and not NAMES & set(tokenize(text))
