import math
import sys
from dataclasses import replace

import pytest
import torch

from conftest import TINY
from wordlstm import LiveSampler, ModelConfig, TrainConfig, UserError, corpus_from_text, split, tokenize, train
from wordlstm.training.events import Position, progress
from wordlstm.training.loop import evaluate, lr_factor, val_batch_size
from wordlstm.training.runner import TrainingThread

SMALL = dict(embed_dim=32, hidden_size=64, num_layers=1, dropout=0.0)


def test_overfits_a_tiny_corpus(tiny_corpus):
    """Training learns: the train loss on a repetitive text goes to nearly zero."""
    events = []
    model, result = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL),
                          TrainConfig(seq_len=20, batch_size=4, lr=1e-2, epochs=40, val_fraction=0.2),
                          on_event=events.append)
    losses = [e.train_loss for e in events if e.kind == "step"]
    assert losses[0] > 2.5  # ~log(vocab) at the start
    assert losses[-1] < 0.15
    assert result.val_loss < 0.5  # the tail repeats the head, so it is predictable too
    _, val_ids = split(tiny_corpus.ids, 20, 0.2)
    # The model returned is the best. On a GPU the loop validates under bf16 autocast and evaluate() here
    # in fp32: they agree to bf16's rounding (0.070817 against 0.070823 on an H200), not to the bit.
    assert evaluate(model, val_ids, 20) == pytest.approx(result.val_loss, rel=1e-3)


def test_adaptive_softmax_learns_too(tiny_corpus):
    V = len(tiny_corpus.vocab)
    model_cfg = ModelConfig(V, **SMALL, softmax="adaptive", cutoffs=[V // 3, 2 * V // 3])
    model, result = train(tiny_corpus.ids, model_cfg,
                          TrainConfig(seq_len=20, batch_size=4, lr=1e-2, epochs=40, val_fraction=0.2))
    assert model.adaptive and result.val_loss < 0.5
    assert result.val_loss == pytest.approx(evaluate(model, tiny_corpus.ids[-len(tiny_corpus.ids) // 5:], 20), rel=0.2)


def test_events_report_progress(tiny_corpus):
    events = []
    _, result = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL),
                      TrainConfig(seq_len=10, batch_size=4, epochs=2, log_every=5), on_event=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("val") == 2
    epochs = [e for e in events if e.kind == "val"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert all(e.val_loss is not None and e.val_ppl == pytest.approx(math.exp(e.val_loss)) for e in epochs)
    steps = [e for e in events if e.kind == "step"]
    assert all(e.tokens_per_s > 0 and e.eta is not None and e.device.startswith("cpu") for e in steps)
    assert [e.progress for e in steps] == sorted(e.progress for e in steps)
    assert events[-1].progress == 1.0 and result.epochs == 2 and not result.stopped
    assert result.val_loss == min(e.val_loss for e in epochs)  # the best weights are kept


def test_stop_keeps_the_weights_trained_so_far(tiny_corpus):
    calls = []
    model, result = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL),
                          TrainConfig(seq_len=10, batch_size=4, epochs=100),
                          should_stop=lambda: calls.append(1) or len(calls) >= 7)
    assert result.stopped and result.steps == 7 and result.epochs < 1
    assert math.isfinite(result.val_loss)
    fresh_loss = math.log(len(tiny_corpus.vocab))
    assert result.val_loss < fresh_loss  # seven steps did something, and we kept them


def test_time_budget_ends_training(tiny_corpus):
    _, result = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL),
                      TrainConfig(seq_len=10, batch_size=2, epochs=None, max_seconds=0.5))
    assert 0 < result.steps and result.seconds < 10 and not result.stopped


def test_same_seed_same_weights(tiny_corpus):
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=1, stride=3, seed=7)  # shuffled windows too
    mc = ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, dropout=0.3)
    a, ra = train(tiny_corpus.ids, mc, cfg)
    b, rb = train(tiny_corpus.ids, mc, cfg)
    c, _ = train(tiny_corpus.ids, mc, TrainConfig(seq_len=10, batch_size=4, epochs=1, stride=3, seed=8))
    assert ra.val_loss == rb.val_loss
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.head.weight, c.head.weight)


@pytest.mark.parametrize("kwargs, message", [
    ({"seq_len": 0}, "seq_len must be at least 1"), ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"lr": 0}, "lr must be positive"), ({"lr": -1e-3}, "lr must be positive"),
    ({"epochs": 0}, "epochs must be at least 1"), ({"epochs": -2}, "epochs must be at least 1"),
    ({"max_seconds": 0}, "max_seconds must be positive"), ({"stride": 0}, "stride must be at least 1"),
    ({"epochs": None}, "give a number of epochs"), ({"val_fraction": 1.0}, "val_fraction"),
])
def test_bad_train_config(kwargs, message):
    with pytest.raises(UserError, match=message):
        TrainConfig(**kwargs)


def test_bad_device():
    with pytest.raises(UserError, match="unknown device"):
        train(torch.arange(100), ModelConfig(100), TrainConfig(device="tpu9"))
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            train(torch.arange(100), ModelConfig(100), TrainConfig(device="cuda"))


def test_token_nll_matches_torch():
    from wordlstm.model.lstm import token_nll

    logits = (torch.randn(40, 300) * 5).requires_grad_()
    target = torch.randint(0, 300, (40,))
    weights = torch.rand(40)  # a different upstream gradient per row, as the adaptive loss's sums give
    ours = token_nll(logits, target)
    (g_ours,) = torch.autograd.grad((weights * ours).sum(), logits)
    ref = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    (g_ref,) = torch.autograd.grad((weights * ref).sum(), logits)
    assert torch.allclose(ours, ref, atol=1e-5) and torch.allclose(g_ours, g_ref, atol=1e-6)
    half = logits.detach().bfloat16().requires_grad_()  # under autocast the scores come in bf16
    (g_half,) = torch.autograd.grad(token_nll(half, target).sum(), half)
    assert token_nll(half, target).dtype == torch.float32 and g_half.dtype == torch.bfloat16


@pytest.mark.parametrize("stride, val_loss, steps, weight_sum", [
    (None, 2.573377990722656, 20, -84.05014034442138),  # contiguous streams, the state carried
    (3, 1.2102462768554687, 68, -57.637981308682356),  # shuffled overlapping windows
])
def test_a_short_run_gives_the_pinned_numbers(tiny_corpus, stride, val_loss, steps, weight_sum):
    """Same seed, same settings, same weights across refactors of the loop: this training's numbers
    (a constant rate of 5e-3, no cache), printed once by running it. A change to the loop or the recipe
    that moves them must say so and recompute them.

    In float32 whatever the machine (auto would take bf16 on a CPU with AMX), and within a tolerance,
    because another torch build or thread count sums in another order: the last digits of a float32
    training move (-84.0501440 against -84.0501403 here, with torch 2.13's CPU build
    on 2 cores). A change to the loop moves them far more: one step more or less changes the weights'
    sum in its third digit."""
    model, r = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, dropout=0.3, cache_lambda=0.0),
                     TrainConfig(seq_len=10, stride=stride, batch_size=4, epochs=2, seed=3, lr=5e-3,
                                 schedule="constant", shuffle=stride is not None, precision="fp32"))
    assert r.steps == steps and r.val_loss == pytest.approx(val_loss, rel=1e-5)
    assert sum(float(p.double().sum()) for p in model.state_dict().values()) == pytest.approx(weight_sum, rel=1e-6)


def test_the_learning_rate_warms_up_then_falls_to_zero_at_the_end_of_the_run(tiny_corpus, monkeypatch):
    cfg = TrainConfig(epochs=2, warmup=0.1)
    assert lr_factor(cfg, 0.0) == pytest.approx(0.01) and lr_factor(cfg, 0.05) == pytest.approx(0.51)
    assert lr_factor(cfg, 0.1) == pytest.approx(1.0) and lr_factor(cfg, 0.55) == pytest.approx(0.5)
    assert lr_factor(cfg, 1.0) == 0.0 and lr_factor(TrainConfig(schedule="constant"), 0.7) == 1.0
    rates = []  # what Adam is given at each step of a real run, by steps (2 epochs)
    step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: (rates.append(self.param_groups[0]["lr"]),
                                                                         step(self, *a, **k))[1])
    _, r = train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), 16, 16, 1), TrainConfig(
        seq_len=10, batch_size=4, epochs=2, lr=0.02, warmup=0.1))
    assert len(rates) == r.steps and max(rates) == pytest.approx(0.02, rel=0.1)
    peak = rates.index(max(rates))
    assert 0 < peak < r.steps * 0.2 and rates[0] < rates[peak] and rates[-1] < 0.02 * 2 / r.steps
    assert all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))  # down, never up, after the warm-up


def test_weight_decay_uses_adamw_and_zero_is_plain_adam(tiny_corpus):
    mc, base = ModelConfig(len(tiny_corpus.vocab), 16, 16, 1), TrainConfig(seq_len=10, batch_size=4, epochs=1)
    plain, _ = train(tiny_corpus.ids, mc, base)
    decayed, _ = train(tiny_corpus.ids, mc, replace(base, weight_decay=0.5))
    norm = lambda m: sum(float(p.detach().norm()) for n, p in m.named_parameters() if "weight" in n)  # noqa: E731
    assert norm(decayed) < norm(plain)


def test_training_stops_early_when_validation_stops_improving(tiny_corpus):
    """The tiny text is learnt by heart within a few epochs; then validation only gets worse."""
    mc = ModelConfig(len(tiny_corpus.vocab), 32, 64, 1, dropout=0.0)
    events = []
    model, r = train(tiny_corpus.ids, mc, TrainConfig(seq_len=10, batch_size=4, epochs=100, lr=0.05, patience=3,
                                                      schedule="constant"), on_event=events.append)
    losses = [e.val_loss for e in events if e.kind == "val"]
    assert r.stopped_early and not r.annealed and len(losses) < 100 and r.metrics()["stopped_early"]
    assert min(losses) == r.val_loss == losses[-4] and all(loss > r.val_loss for loss in losses[-3:])
    assert r.early_note(3).startswith(f"stopped early at {r.seconds:.0f} s: no gain in 3 validations in a row")
    _, full = train(tiny_corpus.ids, mc, TrainConfig(seq_len=10, batch_size=4, epochs=len(losses) + 2, lr=0.05,
                                                     patience=None, schedule="constant"))
    assert not full.stopped_early and full.epochs == len(losses) + 2  # None: every epoch asked for


def test_when_patience_runs_out_the_linear_schedule_anneals_to_zero_then_stops(tiny_corpus, monkeypatch):
    rates = []  # what Adam is given at each step
    step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: (rates.append(self.param_groups[0]["lr"]),
                                                                         step(self, *a, **k))[1])
    mc = ModelConfig(len(tiny_corpus.vocab), 32, 64, 1, dropout=0.0)
    events = []
    _, r = train(tiny_corpus.ids, mc, TrainConfig(seq_len=10, batch_size=4, epochs=100, lr=0.05, patience=3),
                 on_event=events.append)
    vals = [e for e in events if e.kind == "val"]
    best_step, since, start = 0, 0, None  # replay the rule: the third validation in a row without a new best
    for i, e in enumerate(vals):
        if not i or e.val_loss < min(v.val_loss for v in vals[:i]):
            best_step, since = e.step, 0
        else:
            since += 1
        if since == 3:
            start = e.step
            break
    assert start is not None and r.stopped_early and r.annealed and r.metrics()["annealed"]
    assert "then annealed the rate to zero" in r.early_note(3) and len(vals) < 100
    assert start < r.steps <= 2 * start - best_step  # as many steps again as since the best, or fewer
    assert rates[start - 1] > 0.5 * 0.05  # without patience, the rate would still be above half its peak
    tail = rates[start:]
    assert all(a > b for a, b in zip(tail, tail[1:])) and tail[-1] < 0.1 * rates[start - 1]  # falling to zero


@pytest.mark.slow
def test_validation_by_the_clock_reads_one_fixed_sample_and_the_kept_weights_get_the_whole_tail():
    corpus = corpus_from_text(TINY * 40)  # a held-out half of about 900 windows of 10 tokens
    mc = ModelConfig(len(corpus.vocab), **SMALL)
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=1, val_every=1e-9, val_fraction=0.5, log_every=1,
                      patience=None)  # at every step (the clock is read at log steps)
    events = []
    model, r = train(corpus.ids, mc, cfg, on_event=events.append)
    vals = [e for e in events if e.kind == "val"]
    assert len(vals) == r.steps > 1 and {e.epoch for e in vals} == {1}  # all within the one epoch
    _, val_ids = split(corpus.ids, 10, 0.5)
    sample = val_batch_size(cfg)  # 640 windows: no time between validations, so the fewest (one batch)
    assert sample < len(val_ids) // 10
    best = min(e.val_loss for e in vals)
    assert evaluate(model, val_ids, 10, max_windows=sample) == pytest.approx(best, rel=1e-6)  # the best kept
    assert r.val_loss == pytest.approx(evaluate(model, val_ids, 10), rel=1e-6) != pytest.approx(best, rel=1e-6)
    assert r.val_coverage == 1.0
    _, per_epoch = train(corpus.ids, mc, replace(cfg, val_every=None), on_event=events.append)
    assert per_epoch.steps == r.steps and [e.kind for e in events].count("val") == len(vals) + 1  # None: epoch ends


def test_progress_and_eta_come_from_the_position_alone():
    cfg = TrainConfig(epochs=4, max_seconds=100)
    pos = Position(step=10, train_time=5.0)
    assert progress(pos, cfg, total_steps=40, elapsed=10.0) == (0.25, 15.0)  # 30 steps at 0.5 s each
    assert progress(pos, cfg, total_steps=40, elapsed=90.0) == (0.9, 10.0)  # the clock is further along
    assert progress(Position(), TrainConfig(epochs=None, max_seconds=50), None, 60.0) == (1.0, 0.0)
    assert progress(Position(), TrainConfig(epochs=2), total_steps=8, elapsed=1.0) == (0.0, None)  # no step yet


def test_ddp_with_fewer_windows_than_the_global_batch_is_a_clear_error(tiny_corpus, monkeypatch):
    """Shuffled windows under DDP: fewer windows than the global batch gave ranks no rows and
    an epoch of 0 steps (a division by zero). Now the check comes before any process talks."""
    # rank 0 of 2, no process group needed
    monkeypatch.setattr(sys.modules["wordlstm.training.loop"], "world_info", lambda: (0, 2))
    with pytest.raises(UserError, match="the training text has 3 windows, fewer than the batch of 4 shared by 2"):
        train(tiny_corpus.ids[:40], ModelConfig(len(tiny_corpus.vocab), 8, 8, 1),
              TrainConfig(seq_len=10, stride=9, batch_size=4, epochs=1, val_fraction=0.2))


def test_training_thread_streams_every_event_and_ends_with_the_training(tiny_corpus):
    job = TrainingThread(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL),
                         TrainConfig(seq_len=10, batch_size=4, epochs=2, log_every=1))
    kinds = [e.kind for batch in job.events(every=0.1) for e in batch]
    assert job.done and job.error is None and job.result.epochs == 2
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("val") == 2
    assert kinds.count("step") == job.result.steps  # log_every=1: one event per step, none lost


def test_live_samples_come_with_each_validation_and_change_nothing(tiny_corpus):
    mc = ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, dropout=0.3)
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=2, seed=3)
    events = []
    model, result = train(tiny_corpus.ids, mc, cfg, on_event=events.append,
                          sampler=LiveSampler(tiny_corpus.vocab, words=12))
    samples = [e.sample for e in events if e.kind == "val"]
    assert len(samples) == 2 and all(tokenize(s)[0] == "the" and len(tokenize(s)) == 13 for s in samples)
    assert all(e.sample is None for e in events if e.kind != "val")
    assert result.sample_seconds > 0
    plain, _ = train(tiny_corpus.ids, mc, cfg)  # sampling draws nothing from training's random state
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))


@pytest.mark.slow
def test_the_time_budget_bounds_the_wall_time_validation_included():
    """A slow model with a long validation tail (a full validation takes about 20 s here): the
    3 s budget still bounds the run, validation included. A step that would end past it is not
    started, and the last validation reads only the windows that fit (never under one batch).
    The bound asserted, budget + max(5 s, one step), is generous for a noisy machine; the README
    gives the overrun measured on a 25 MB corpus."""
    corpus = corpus_from_text(TINY * 1200)  # 547K tokens, half of them held out
    model_cfg = ModelConfig(len(corpus.vocab), 256, 512, 2, dropout=0.0)
    _, result = train(corpus.ids, model_cfg, TrainConfig(seq_len=100, batch_size=32, epochs=None, max_seconds=3,
                                                         val_fraction=0.5))
    step = result.train_seconds / result.steps
    assert result.seconds < 3 + max(5.0, step)
    assert 0 < result.val_coverage < 0.5 and math.isfinite(result.val_loss)


def test_each_live_sample_comes_from_the_weights_whose_perplexity_it_shows(tiny_corpus):
    """When patience runs out, the loop goes back to the best weights to anneal from them: the sample of
    that validation must still be the validated weights', not the best ones'. The sampler here writes
    the validation loss of the weights it is given."""
    cfg = TrainConfig(seq_len=10, batch_size=4, lr=3e-2, epochs=12, patience=1, seed=1)
    _, val_ids = split(tiny_corpus.ids, cfg.seq_len, cfg.val_fraction)
    events = []
    train(tiny_corpus.ids, ModelConfig(len(tiny_corpus.vocab), **SMALL), cfg, on_event=events.append,
          sampler=lambda model: repr(evaluate(model, val_ids, cfg.seq_len, batch_size=val_batch_size(cfg))))
    vals = [e for e in events if e.kind == "val"]
    best = min(e.val_loss for e in vals)
    assert any(e.val_loss > best for e in vals)  # some validation was not the best: the case in question
    for e in vals:
        assert float(e.sample) == pytest.approx(e.val_loss, rel=1e-6), e.step
