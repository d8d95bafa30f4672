"""Checkpoints during training, and resuming: exact continuation, SIGKILL safety."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields

import pytest
import torch

from conftest import ROOT, TINY
from test_cli import run
from wordlstm import ModelConfig, TrainConfig, UserError, load_checkpoint, save_checkpoint, train
from wordlstm.share.checkpoint import RESUME_JSON, load_train_state
from wordlstm.training.events import Position


def small(tiny_corpus):
    return ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, dropout=0.3)  # dropout: the RNG state matters


# Contiguous streams with the state carried; shuffled windows; shuffled overlapping windows.
@pytest.mark.parametrize("stride, shuffle", [(None, False), (None, True), (3, True)])
@pytest.mark.parametrize("where", ["mid-epoch", "epoch end"])
@pytest.mark.parametrize("val_every", [None, 1e-9])  # at epoch ends; at every step as well
def test_a_resumed_run_ends_with_the_same_weights(tiny_corpus, stride, shuffle, where, val_every):
    cfg = TrainConfig(seq_len=10, stride=stride, shuffle=shuffle, batch_size=4, epochs=3, save_every=1e9,
                      val_every=val_every, patience=None)
    full = []
    train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=full.append)
    if where == "epoch end":
        start = full[0]  # saved after epoch 1's validation
    else:
        polls, stop_at = iter(range(10**6)), full[0].position.step + 3  # should_stop is asked once per step
        saved = []
        train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=saved.append,
              should_stop=lambda: next(polls) >= stop_at - 1)  # stop 3 steps into epoch 2
        start = saved[-1]
        assert start.position.epoch == 2 and 0 < start.position.epoch_steps
    resumed = []
    train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=resumed.append, resume=start)
    a, b = full[-1], resumed[-1]
    assert (a.position.step, a.position.epoch, a.position.tokens) == (b.position.step, b.position.epoch, b.position.tokens)
    for name, tensor in a.model.items():
        assert torch.equal(tensor, b.model[name]), name
    assert a.position.best_loss == b.position.best_loss


def test_train_state_round_trips_through_the_folder(tmp_path, tiny_corpus):
    states = []
    model, _ = train(tiny_corpus.ids, small(tiny_corpus), TrainConfig(seq_len=10, batch_size=4, epochs=2, save_every=0,
                                                                      shuffle=False),  # streams: a carried state
                     on_checkpoint=states.append)
    st = next(s for s in states if s.position.epoch == 2 and s.position.epoch_steps == 3)  # mid-epoch, after a validation
    assert st.position.best is not None and isinstance(st.position.hidden, tuple)  # every kind of field is exercised
    save_checkpoint(tmp_path / "ck", model, tiny_corpus.vocab, resume=st)
    back = load_train_state(tmp_path / "ck")
    for f in fields(Position):  # every field, whatever its type, with no list of them here or in checkpoint.py
        ours, theirs = getattr(back.position, f.name), getattr(st.position, f.name)
        if isinstance(theirs, dict):
            assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], v) for k, v in theirs.items()), f.name
        elif isinstance(theirs, tuple):
            assert isinstance(ours, tuple) and all(torch.equal(a, b) for a, b in zip(ours, theirs)), f.name
        elif isinstance(theirs, torch.Tensor):
            assert torch.equal(ours, theirs), f.name
        else:
            assert ours == theirs, f.name
    assert isinstance(back.position.hidden, tuple)
    assert all(torch.equal(v, back.model[k]) for k, v in st.model.items())
    assert torch.equal(back.rng, st.rng)
    assert back.optimizer["param_groups"] == st.optimizer["param_groups"]  # betas come back a tuple
    assert list(back.optimizer["state"]) == list(st.optimizer["state"]) == list(range(len(st.model)))  # int keys
    for pid, slots in st.optimizer["state"].items():
        assert all(torch.equal(v, back.optimizer["state"][pid][k]) for k, v in slots.items())
    with pytest.raises(UserError, match="holds no run to resume"):
        save_checkpoint(tmp_path / "plain", model, tiny_corpus.vocab)
        load_train_state(tmp_path / "plain")


@pytest.mark.slow
def test_sigkill_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY * 4)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out", str(out),
                             "--epochs", "1000", "--seq-len", "10", "--batch-size", "2", "--embed-dim", "32",
                             "--hidden-size", "64", "--save-every", "0.3"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (out / "resume.json").exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a few more saves, then die mid-epoch, maybe mid-save
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    ck = load_checkpoint(out)  # the last complete save
    killed = load_train_state(out).position
    assert killed.step > 0 and ck.config["metrics"]["in_progress"]
    r = run("train.py", "--resume", out, "--epochs", killed.epoch + 1)
    assert r.returncode == 0, r.stderr
    done = load_train_state(out).position
    assert done.epoch == killed.epoch + 2 and done.step > killed.step  # finished the epoch it was in, and one more
    assert "in_progress" not in load_checkpoint(out).config["metrics"]


def test_a_crash_between_the_swap_renames_is_recovered(tmp_path, tiny_model, tiny_vocab):
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab)
    os.replace(tmp_path / "ck", tmp_path / ".ck.old-x1y2")  # the state between the two renames of a save
    ck = load_checkpoint(tmp_path / "ck")
    assert sorted(os.listdir(tmp_path)) == ["ck"] and ck.vocab.itos == tiny_vocab.itos


@pytest.mark.slow
def test_resume_refuses_another_text_or_no_more_epochs(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    r = run("train.py", corpus, "--out", tmp_path / "m", "--epochs", 1, "--seq-len", 10, "--batch-size", 4,
            "--embed-dim", 8, "--hidden-size", 8, "--num-layers", 1)
    assert r.returncode == 0, r.stderr
    other = tmp_path / "other.txt"
    other.write_text(TINY.replace("cat", "cow"))
    r = run("train.py", other, "--resume", tmp_path / "m", "--epochs", 2)
    assert r.returncode == 2 and "is not the text this run trained on" in r.stderr
    r = run("train.py", "--resume", tmp_path / "m", "--epochs", 1)
    assert r.returncode == 2 and "already trained 1 epochs" in r.stderr


def test_a_run_saved_in_an_older_format_says_to_train_anew(tmp_path, tiny_corpus):
    states = []
    model, _ = train(tiny_corpus.ids, small(tiny_corpus), TrainConfig(seq_len=10, batch_size=4, epochs=1),
                     on_checkpoint=states.append)
    save_checkpoint(tmp_path / "ck", model, tiny_corpus.vocab, resume=states[-1])
    old = {"param_groups": [], "has_best": True, "best_loss": 2.0, "epoch": 2, "epoch_steps": 0, "step": 8,
           "tokens": 320, "train_time": 0.5}  # a resume.json of the first format: no "format" field
    (tmp_path / "ck" / RESUME_JSON).write_text(json.dumps(old))
    with pytest.raises(UserError, match="written by an older wordlstm and cannot be resumed; train anew"):
        load_train_state(tmp_path / "ck")
    r = run("train.py", "--resume", tmp_path / "ck", "--epochs", 3)
    assert r.returncode == 2 and "train anew" in r.stderr and len(r.stderr.strip().splitlines()) == 1
