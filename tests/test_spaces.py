"""The ZeroGPU path (wordlstm/zerogpu.py), with a stand-in for the `spaces` package that checks what
ZeroGPU checks: the lease's duration, that everything crossing into and out of the GPU worker process
pickles, and the quota: it grants a set number of leases, then refuses as ZeroGPU does.

A lease the real package grants cannot run here: it forks a worker that needs a GPU. Its refusals can:
the last tests drive the real package against a fake device API (tests/realspaces.py)."""
import importlib.util
import itertools
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch

from conftest import CPU, WITH_NEW_WORDS
from wordlstm import ModelConfig, TrainConfig, corpus_from_text, evaluate, split, train
from wordlstm.serve import zerogpu
from wordlstm.training.runner import TrainingThread
from wordlstm.training.schedule import Schedule


class Refused(Exception):
    """What spaces 0.51 raises for a refused lease: gr.Error(message, title=...) (spaces/zero/client.py)."""

    def __init__(self, title, message):
        super().__init__(message)
        self.title, self.message = title, message


class FakeSpaces:
    """spaces.GPU's stand-in: runs the function here, checks what crosses, counts the leases; after
    `quota` leases it refuses as the package does."""

    def __init__(self, quota=None, refusal=Refused("ZeroGPU quota exceeded", "Space app has reached its GPU limit.")):
        self.durations, self.stops, self.quota, self.refusal = [], [], quota, refusal

    def GPU(self, duration):  # noqa: N802 (the real package's name)
        def wrap(fn):
            def run(*args):
                if self.quota is not None and len(self.durations) >= self.quota:
                    raise self.refusal
                self.durations.append(duration(*args))
                self.stops.append(args[-1])
                pickle.dumps(args)  # into the worker
                for item in fn(*args):
                    pickle.dumps(item)  # and back, item by item
                    yield item
            return run
        return wrap


@pytest.fixture
def short_chunks(monkeypatch):
    """Leases of 25 s on a clock that a step moves by 10 s: three steps a lease, on any machine."""
    ticks = itertools.count()
    monkeypatch.setenv("WORDLSTM_GPU_CHUNK_SECONDS", "25")
    monkeypatch.setattr(zerogpu, "MARGIN", 0.0)
    monkeypatch.setattr(zerogpu, "clock", lambda: 10.0 * next(ticks))


CORPUS = corpus_from_text(WITH_NEW_WORDS, name="tiny")  # a model rebuilt here counts its unseen words in too
MODEL = ModelConfig(len(CORPUS.vocab), 16, 16, 1, 0.0)
EPOCHS = TrainConfig(seq_len=10, batch_size=4, epochs=12, patience=None)  # steps, not the clock, set its schedule


def in_leases(fake, cfg, stop_after_steps=None, **options):
    """A training through `fake`'s leases in a TrainingThread, as the app runs it: (job, events)."""
    job = TrainingThread(CORPUS.ids, MODEL, cfg, run=zerogpu.in_leases(fake.GPU(duration=zerogpu.lease_seconds)(
        zerogpu.train_chunk)), **options)
    events = []
    for batch in job.events(every=0.5):
        events += batch
        if stop_after_steps and any(e.step >= stop_after_steps for e in batch):
            job.stop.set()
    assert job.done and job.error is None, job.error
    return job, events


def same_weights(a, b) -> bool:
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


@pytest.mark.slow
def test_a_chunked_run_ends_with_the_same_model_as_one_run(short_chunks):
    fake = FakeSpaces()
    job, events = in_leases(fake, EPOCHS)
    assert len(fake.durations) > 2 and set(fake.durations) == {25}  # several leases, each one chunk
    model, result = train(CORPUS.ids, MODEL, EPOCHS)
    assert same_weights(job.model, model) and job.result.val_loss == result.val_loss
    assert job.result.steps == result.steps and job.result.note is None
    kinds = [e.kind for e in events]
    assert kinds.count("start") == 1 and kinds[-1] == "done"  # one training, as the curve and the bar see it
    steps = [e.step for e in events if e.kind == "step"]
    assert steps == sorted(steps) and steps[-1] <= result.steps
    _, val_ids = split(CORPUS.ids, EPOCHS.seq_len, EPOCHS.val_fraction)  # the weights that came back: the best
    assert job.model.config.unseen_ids and evaluate(job.model, val_ids, EPOCHS.seq_len) == pytest.approx(
        job.result.val_loss, rel=1e-5)


@pytest.mark.parametrize("refusal", [  # the package's own words
    Refused("ZeroGPU quota exceeded", "Space app has reached its GPU limit."),
    Refused("ZeroGPU illegal duration", "The requested GPU duration (90s) is larger than the maximum allowed"),
    RuntimeError("No GPU is currently available for you after 60s")])
def test_a_refused_lease_goes_on_on_the_cpu_says_why_and_loses_nothing(short_chunks, refusal):
    fake = FakeSpaces(quota=2, refusal=refusal)
    job, events = in_leases(fake, EPOCHS)
    assert len(fake.durations) == 2
    model, _ = train(CORPUS.ids, MODEL, EPOCHS)
    assert same_weights(job.model, model)  # the CPU went on from the state the last lease handed back
    said = str(refusal) if not isinstance(refusal, Refused) else f"{refusal.title}: {refusal}"
    assert said in job.result.note and said in job.result.describe("tiny", None)
    assert any(e.note and said in e.describe("tiny") for e in events)


def test_an_error_in_a_lease_is_an_error_not_a_refusal(short_chunks):
    def broken(*args):
        raise ValueError("a bug")
        yield
    job = TrainingThread(CORPUS.ids, MODEL, EPOCHS, run=zerogpu.in_leases(broken))
    list(job.events(every=0.5))
    assert isinstance(job.error, ValueError)


def test_stop_ends_a_training_at_the_end_of_its_chunk(short_chunks):
    fake = FakeSpaces()
    job, _ = in_leases(fake, TrainConfig(seq_len=10, batch_size=4, epochs=1000), stop_after_steps=10)
    assert job.result.stopped and fake.stops[-1] and not any(fake.stops[:-1])  # the lease after it ends it
    assert job.result.steps < 1000


@pytest.mark.slow
def test_a_training_with_a_budget_and_branches_goes_through_leases(short_chunks):
    fake = FakeSpaces()
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=None, max_seconds=1.5)
    job, events = in_leases(fake, cfg, schedule=Schedule.of(cfg, branches=1))
    assert job.result.branches == 1 and len(fake.durations) >= 2
    assert events[-1].kind == "done"


def test_a_lease_is_one_chunk_whatever_the_budget(monkeypatch):
    ids = torch.arange(10)
    assert zerogpu.lease_seconds(ids, MODEL, TrainConfig(max_seconds=600), None, None, None, False) == 60
    monkeypatch.setenv("WORDLSTM_GPU_CHUNK_SECONDS", "45")
    assert zerogpu.lease_seconds(ids, MODEL, TrainConfig(epochs=3), None, None, None, False) == 45


# The real package imports gradio: without the app extra it cannot be imported at all
REAL_SPACES = all(importlib.util.find_spec(name) is not None for name in ("spaces", "gradio"))
REAL_SPACE = os.path.join(os.path.dirname(__file__), "realspaces.py")


@pytest.mark.skipif(not REAL_SPACES, reason="the spaces package or gradio is missing (both are in the test extra)")
@pytest.mark.parametrize("mode, said", [
    ("quota", "ZeroGPU quota exceeded: Space app has reached its GPU limit."),
    ("illegal", "ZeroGPU illegal duration: The requested GPU duration (45s) is larger than the maximum allowed"),
    ("nogpu", "ZeroGPU client error: No GPU was available")])
@pytest.mark.slow
def test_the_real_spaces_package_refuses_and_the_training_goes_on_on_the_cpu(mode, said):
    """spaces 0.51 asks the device API for each lease, of the chunk's seconds, and raises its refusal; the
    training goes on on the CPU, though the package makes torch.cuda.is_available() say True there."""
    env = {**os.environ, "WORDLSTM_GPU_CHUNK_SECONDS": "45"}
    run = subprocess.run([sys.executable, REAL_SPACE, mode], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in out, out["error"]
    assert len(out["asked"]) == 1 and out["asked"][0].startswith("/schedule?")
    assert "durationSeconds=45" in out["asked"][0]  # one chunk, as the package asked ZeroGPU for it
    assert said in out["note"] and out["event_notes"] > 0  # said in the result and on the way
    assert out["device"] == CPU and out["same_model"]  # nothing lost: the CPU run from the same seed


@pytest.mark.skipif(not REAL_SPACES, reason="the spaces package or gradio is missing (both are in the test extra)")
@pytest.mark.slow
def test_the_app_on_a_zerogpu_space_whose_quota_is_spent_trains_on_the_cpu_and_says_why(tmp_path):
    """The app started as on a ZeroGPU Space (the real spaces package, its device API refusing), trained over
    its API: the status says what ZeroGPU said, and the training ends with its model."""
    pytest.importorskip("gradio")
    from gradio_client import Client, handle_file

    from realspaces import space_app

    with space_app("quota") as (url, asked):
        text = tmp_path / "cats.txt"
        text.write_text("the cat sat on the mat . a dog ran . " * 200)
        outputs = Client(url, verbose=False).submit(
            corpus=handle_file(str(text)), epochs=0, max_seconds=3, seed=1, seq_len=10, embed_dim=16, hidden_size=16,
            num_layers=1, batch_size=8, dropout=0.0, api_name="/train").result()
        status = outputs[0]
        assert status.startswith("Done") and f"on **{CPU}**" in status, status
        assert "ZeroGPU refused a GPU (ZeroGPU quota exceeded: Space app has reached its GPU limit." in status
    assert any(p.startswith("/schedule?") for p in asked)  # the lease was asked for, and refused
