"""Checkpoints during training, and resuming: exact continuation, SIGKILL safety."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, TINY
from test_cli import run
from wordlstm import ModelConfig, TrainConfig, UserError, load_checkpoint, save_checkpoint, train
from wordlstm.checkpoint import load_train_state


def small(tiny_corpus):
    return ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, dropout=0.3)  # dropout: the RNG state matters


@pytest.mark.parametrize("stride", [None, 3])  # contiguous streams with the state carried; shuffled windows
@pytest.mark.parametrize("where", ["mid-epoch", "epoch end"])
def test_a_resumed_run_ends_with_the_same_weights(tiny_corpus, stride, where):
    cfg = TrainConfig(seq_len=10, stride=stride, batch_size=4, epochs=3, save_every=1e9)
    full = []
    train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=full.append)
    if where == "epoch end":
        start = full[0]  # saved after epoch 1's validation
    else:
        polls, stop_at = iter(range(10**6)), full[0].step + 3  # should_stop is asked once per step
        saved = []
        train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=saved.append,
              should_stop=lambda: next(polls) >= stop_at - 1)  # stop 3 steps into epoch 2
        start = saved[-1]
        assert start.epoch == 2 and 0 < start.epoch_steps
    resumed = []
    train(tiny_corpus.ids, small(tiny_corpus), cfg, on_checkpoint=resumed.append, resume=start)
    a, b = full[-1], resumed[-1]
    assert (a.step, a.epoch, a.tokens) == (b.step, b.epoch, b.tokens)
    for name, tensor in a.model.items():
        assert torch.equal(tensor, b.model[name]), name
    assert a.best_loss == b.best_loss


def test_train_state_round_trips_through_the_folder(tmp_path, tiny_corpus):
    states = []
    model, _ = train(tiny_corpus.ids, small(tiny_corpus), TrainConfig(seq_len=10, batch_size=4, epochs=1),
                     on_checkpoint=states.append)
    save_checkpoint(tmp_path / "ck", model, tiny_corpus.vocab, resume=states[-1])
    back = load_train_state(tmp_path / "ck")
    st = states[-1]
    assert (back.epoch, back.epoch_steps, back.step, back.best_loss) == (st.epoch, st.epoch_steps, st.step, st.best_loss)
    assert all(torch.equal(v, back.model[k]) for k, v in st.model.items())
    assert torch.equal(back.rng, st.rng) and torch.equal(back.epoch_rng, st.epoch_rng)
    assert back.optimizer["param_groups"] == st.optimizer["param_groups"]
    for pid, slots in st.optimizer["state"].items():
        assert all(torch.equal(v, back.optimizer["state"][pid][k]) for k, v in slots.items())
    with pytest.raises(UserError, match="holds no run to resume"):
        save_checkpoint(tmp_path / "plain", model, tiny_corpus.vocab)
        load_train_state(tmp_path / "plain")


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
    killed = load_train_state(out)
    assert killed.step > 0 and ck.config["metrics"]["in_progress"]
    r = run("train.py", "--resume", out, "--epochs", killed.epoch + 1)
    assert r.returncode == 0, r.stderr
    done = load_train_state(out)
    assert done.epoch == killed.epoch + 2 and done.step > killed.step  # finished the epoch it was in, and one more
    assert "in_progress" not in load_checkpoint(out).config["metrics"]


def test_a_crash_between_the_swap_renames_is_recovered(tmp_path, tiny_model, tiny_vocab):
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab)
    os.replace(tmp_path / "ck", tmp_path / ".ck.old-x1y2")  # the state between the two renames of a save
    ck = load_checkpoint(tmp_path / "ck")
    assert sorted(os.listdir(tmp_path)) == ["ck"] and ck.vocab.itos == tiny_vocab.itos


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
