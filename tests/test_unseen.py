"""The unseen words' share: what train() counts, and what a checkpoint keeps. (That validation, scoring and
generation read the same mixture is checked against the formula in test_cache and test_score.)"""
import json
from collections import Counter

import pytest
import torch

from conftest import WITH_NEW_WORDS
from test_cli import one_line_error, run
from wordlstm import (ModelConfig, TrainConfig, UserError, WordLSTM, corpus_from_text, evaluate, load_checkpoint,
                      save_checkpoint, split, train)
from wordlstm.model import unseen


def test_good_turing_share_and_the_words_training_never_saw():
    counts = torch.tensor([5, 1, 0, 3, 0, 1])  # 10 tokens, two words seen once, two never
    config = unseen.resolve(ModelConfig(6), counts)
    assert config.unseen_ids == [2, 4] and config.unseen_share == pytest.approx(0.2) and unseen.active(config)
    assert unseen.resolve(ModelConfig(6, unseen_share=0.05), counts).unseen_share == 0.05  # given: kept
    off = unseen.resolve(ModelConfig(6, unseen_share=0.0), counts)
    assert off.unseen_ids == [] and not unseen.active(off)
    assert not unseen.active(unseen.resolve(ModelConfig(6), torch.tensor([5, 1, 2, 3, 1, 1])))  # every word seen
    assert unseen.resolve(ModelConfig(3), torch.tensor([1, 1, 0])).unseen_share == unseen.MAX_SHARE  # n1 / N = 1


def test_training_counts_them_on_the_training_text_and_validation_mixes_them_in():
    corpus = corpus_from_text(WITH_NEW_WORDS)
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=1, val_fraction=0.05)
    model, result = train(corpus.ids, ModelConfig(len(corpus.vocab), 16, 16, 1, dropout=0.0), cfg)
    train_ids, val_ids = split(corpus.ids, cfg.seq_len, cfg.val_fraction)
    counts = Counter(train_ids.tolist())
    assert model.config.unseen_ids == sorted(corpus.vocab.stoi[w] for w in ("zebra", "yak", "gnu", "met", "ran"))
    n1 = sum(1 for c in counts.values() if c == 1)
    assert n1 >= 2 and model.config.unseen_share == pytest.approx(n1 / len(train_ids), abs=1e-6)
    # The kept weights' figure is the mixture's; without the share, the same weights do worse on the new words.
    assert evaluate(model, val_ids, cfg.seq_len) == pytest.approx(result.val_loss, rel=1e-6)
    model.config.unseen_share = 0.0
    assert evaluate(model, val_ids, cfg.seq_len) > result.val_loss + 0.1


def test_a_checkpoint_keeps_them_and_one_from_before_loads_with_them_off(tiny_corpus, tmp_path):
    V = len(tiny_corpus.vocab)
    model = WordLSTM(ModelConfig(V, 8, 8, 1, unseen_share=0.03, unseen_ids=[V - 2, V - 1]))
    save_checkpoint(tmp_path, model, tiny_corpus.vocab)
    loaded = load_checkpoint(tmp_path).model.config
    assert (loaded.unseen_share, loaded.unseen_ids) == (0.03, [V - 2, V - 1])
    card = (tmp_path / "README.md").read_text()
    assert "The 2 words of the vocabulary that its training text never has share\n3.00% of the probability" in card
    assert "| unseen_ids | 2 words (in config.json) |" in card  # not the ids: hundreds of them in a real model
    config = json.loads((tmp_path / "config.json").read_text())
    for field in ("unseen_share", "unseen_ids"):
        del config["model"][field]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert not unseen.active(load_checkpoint(tmp_path).model.config)


@pytest.mark.parametrize("settings, message", [
    (dict(unseen_share=1.0), "unseen_share must be in"), (dict(unseen_share=-0.1), "unseen_share must be in"),
    (dict(unseen_ids=[3, 3]), "unseen_ids must be distinct"), (dict(unseen_ids=[100]), "unseen_ids must be distinct"),
])
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(UserError, match=message):
        ModelConfig(100, **settings)


@pytest.mark.slow
def test_the_cli_saves_them_turns_them_off_and_says_when_a_share_is_wrong(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(WITH_NEW_WORDS)
    saved = {}
    for name, extra in [("on", []), ("off", ["--unseen-share", 0])]:
        r = run("train.py", corpus, "--out", tmp_path / name, "--epochs", 1, "--seq-len", 10, "--hidden-size", 16,
                "--embed-dim", 16, "--num-layers", 1, "--val-fraction", 0.05, "--sample-words", 0, *extra)
        assert r.returncode == 0, r.stderr
        saved[name] = load_checkpoint(tmp_path / name).model.config
    assert saved["on"].unseen_share > 0 and len(saved["on"].unseen_ids) == 5  # zebra, yak, met, gnu, ran
    assert (saved["off"].unseen_share, saved["off"].unseen_ids) == (0.0, [])
    one_line_error(run("train.py", corpus, "--out", tmp_path / "bad", "--unseen-share", 1.5), "unseen_share")

