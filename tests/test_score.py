"""Scoring a text: perplexity, each word's surprise, and the model's guesses, against first principles."""
import json
import math
import random

import pytest
import torch

from conftest import ANNA, ROOT, TINY
from test_cache import mixes, next_word_distribution
from test_cli import run
from wordlstm import UNK, ModelConfig, UserError, Vocab, WordLSTM, corpus_from_text, load_checkpoint, score, tokenize

ADAPTIVE = dict(softmax="adaptive", cutoffs=[6, 12])


@pytest.fixture(scope="module")
def anna():
    return load_checkpoint(f"{ROOT}/models/anna")


def test_a_slice_of_the_corpus_is_far_less_surprising_than_its_words_shuffled(anna):
    words = tokenize(open(ANNA, encoding="utf-8").read())[20_000:22_000]
    shuffled = list(words)
    random.Random(0).shuffle(shuffled)
    real, mixed = score(anna.model, anna.vocab, " ".join(words)), score(anna.model, anna.vocab, " ".join(shuffled))
    assert real.scored == mixed.scored == 1999 and real.unknown == 0
    assert real.perplexity * 10 < mixed.perplexity  # about 60 against about 2,000


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(4))  # the model alone, then mixes(): cache, cache and share, share
def test_surprise_is_minus_log2_of_the_probability_generate_samples_from(tiny_corpus, extra, mix):
    torch.manual_seed(0)
    vocab = tiny_corpus.vocab
    mixed = [dict(cache_lambda=0.0), *mixes(vocab)][mix]
    model = WordLSTM(ModelConfig(len(vocab), 16, 16, 2, dropout=0.3, **extra, **{**mixed, "cache_size": 3})).train()
    text = "the cat sat on the mat . the dog ate the cat"
    result = score(model, vocab, text, rows=4)  # blocks shorter than the text: the cache reads across them
    ids = vocab.encode(text).ids
    for k in range(1, len(ids)):  # generate's distribution after the first k words, at temperature 1
        p = next_word_distribution(model, ids[:k])
        assert result.words[k].bits == pytest.approx(-math.log2(p[ids[k]].item()), rel=1e-4)
        assert result.words[k].guesses[0][1] == pytest.approx(p.max().item(), rel=1e-4)
        assert [vocab.stoi[w] for w, _ in result.words[k].guesses] == p.topk(5).indices.tolist()
    assert result.words[0].bits is None  # nothing to predict the first word from
    nats = [b * math.log(2) for b in (w.bits for w in result.words[1:])]
    assert result.perplexity == pytest.approx(math.exp(sum(nats) / len(nats)))
    assert model.training


def test_unknown_words_take_unk_where_it_exists_and_are_left_out_otherwise(tiny_corpus):
    torch.manual_seed(0)
    plain = tiny_corpus.vocab
    with_unk = Vocab([*plain.itos, UNK])
    text = "the cat zebra sat on the mat"
    left_out = score(WordLSTM(ModelConfig(len(plain), 8, 8, 1)), plain, text)
    assert left_out.unknown == 1 and left_out.scored == 5 and left_out.words[2].bits is None
    assert left_out.words[2].unknown and not left_out.words[3].unknown
    as_unk = score(WordLSTM(ModelConfig(len(with_unk), 8, 8, 1)), with_unk, text)
    assert as_unk.unknown == 1 and as_unk.scored == 6 and as_unk.words[2].bits > 0 and as_unk.words[2].unknown


def test_a_text_the_model_cannot_read_is_a_clear_error(tiny_corpus):
    model = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 8, 8, 1))
    with pytest.raises(UserError, match="at least two words the model knows"):
        score(model, tiny_corpus.vocab, "zebra cat")


@pytest.mark.slow
def test_cli_prints_a_table_or_one_json_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(" ".join(tokenize(open(ANNA, encoding="utf-8").read())[5_000:6_000]))
    r = run("score.py", f"{ROOT}/models/anna", text, "--top", 3)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 + 1 + 3 and "{" not in r.stdout  # summary, header, rows: for people, no JSON
    assert lines[0].startswith("perplexity ") and "over 999 words (1,000 tokens, 0 not in the vocabulary)" in lines[0]
    r = run("score.py", f"{ROOT}/models/anna", text, "--top", 3, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["tokens"] == 1000 and report["scored"] == 999 and 20 < report["perplexity"] < 300
    assert len(report["most_surprising"]) == 3
    word, bits, guesses = report["most_surprising"][0]
    assert lines[2].split()[0] == word and bits > 10 and len(guesses) == 5
    r = run("score.py", f"{ROOT}/models/anna", tmp_path / "missing.txt")
    assert r.returncode == 2 and "no such file" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_text_in_memory_makes_the_same_corpus_as_its_file(tiny_corpus):
    """The fixture is TINY read from a file; the app and the tests also build corpora from a string."""
    in_memory = corpus_from_text(TINY)
    assert in_memory.sha256 == tiny_corpus.sha256 and in_memory.vocab.itos == tiny_corpus.vocab.itos
    assert torch.equal(in_memory.ids, tiny_corpus.ids)
