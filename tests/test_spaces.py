"""The ZeroGPU path of the app, with a stand-in for the `spaces` package that
checks what ZeroGPU checks: the lease's duration, and that everything crossing
into and out of the GPU worker process pickles."""
import pickle

import torch

from conftest import TINY
from wordlstm import ModelConfig, TrainConfig, corpus_from_text


class FakeSpaces:
    def __init__(self):
        self.durations = []

    def GPU(self, duration):  # noqa: N802 (the real package's name)
        def wrap(fn):
            def run(*args):
                self.durations.append(duration(*args))
                pickle.dumps(args)  # into the worker
                for item in fn(*args):
                    pickle.dumps(item)  # and back, item by item
                    yield item
            return run
        return wrap


def test_zero_gpu_training_crosses_the_process_boundary(monkeypatch):
    import app
    fake = FakeSpaces()
    monkeypatch.setattr(app, "gpu_training", fake.GPU(duration=app.gpu_seconds)(app.gpu_training))
    corpus = corpus_from_text(TINY, name="tiny")
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=None, max_seconds=2)
    job = app.GPUJob(corpus.ids, ModelConfig(len(corpus.vocab), 16, 16, 1, 0.0), cfg)
    events = []
    while not job.done:
        events += job.poll(timeout=0.5)
    events += job.poll(timeout=0)
    assert job.error is None and [e.kind for e in events][-1] == "done"
    assert fake.durations == [2 + 30]
    assert job.result.val_loss == events[-1].val_loss
    logits, _ = job.model(torch.tensor([[0, 1, 2]]))
    assert logits.shape == (1, 3, len(corpus.vocab))


def test_the_lease_is_sized_from_the_budget_and_capped():
    import app
    ids = torch.arange(10)
    mc = ModelConfig(10)
    assert app.gpu_seconds(ids, mc, TrainConfig(max_seconds=60)) == 90
    assert app.gpu_seconds(ids, mc, TrainConfig(epochs=3)) == app.GPU_MAX_SECONDS + 30  # no budget: capped
    assert app.gpu_seconds(ids, mc, TrainConfig(max_seconds=10**6)) == app.GPU_MAX_SECONDS + 30
