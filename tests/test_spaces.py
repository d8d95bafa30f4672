"""The ZeroGPU path (wordlstm/zerogpu.py), with a stand-in for the `spaces` package that
checks what ZeroGPU checks: the lease's duration, and that everything crossing
into and out of the GPU worker process pickles."""
import pickle

import pytest
import torch

from conftest import WITH_NEW_WORDS
from wordlstm import ModelConfig, TrainConfig, corpus_from_text, evaluate, split, zerogpu
from wordlstm.runner import TrainingThread


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


def test_zero_gpu_training_crosses_the_process_boundary():
    fake = FakeSpaces()
    run = zerogpu.runner(fake.GPU(duration=zerogpu.lease_seconds)(zerogpu.train_in_lease))
    corpus = corpus_from_text(WITH_NEW_WORDS, name="tiny")  # the model rebuilt here counts its unseen words in too
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=None, max_seconds=2)
    job = TrainingThread(corpus.ids, ModelConfig(len(corpus.vocab), 16, 16, 1, 0.0), cfg, run=run)
    events = [e for batch in job.events(every=0.5) for e in batch]
    assert job.done and job.error is None and [e.kind for e in events][-1] == "done"
    assert fake.durations == [2 + 30]
    _, val_ids = split(corpus.ids, cfg.seq_len, cfg.val_fraction)  # the weights that came back are the best ones
    assert job.model.config.unseen_ids and evaluate(job.model, val_ids, cfg.seq_len) == pytest.approx(
        job.result.val_loss, rel=1e-5)
    logits, _ = job.model(torch.tensor([[0, 1, 2]]))
    assert logits.shape == (1, 3, len(corpus.vocab))


def test_the_lease_is_sized_from_the_budget_and_capped(monkeypatch):
    monkeypatch.setenv("WORDLSTM_GPU_MAX_SECONDS", "120")
    ids, mc = torch.arange(10), ModelConfig(10)
    assert zerogpu.lease_seconds(ids, mc, TrainConfig(max_seconds=60)) == 90
    assert zerogpu.lease_seconds(ids, mc, TrainConfig(epochs=3)) == 120 + 30  # no budget: capped
    assert zerogpu.lease_seconds(ids, mc, TrainConfig(max_seconds=10**6)) == 120 + 30
