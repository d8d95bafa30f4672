import math

import pytest
import torch

from wordlstm import ModelConfig, TrainConfig, UserError, train
from wordlstm.train import evaluate

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
    assert math.isclose(evaluate(model, tiny_corpus.ids[-30:], 20), evaluate(model, tiny_corpus.ids[-30:], 20))


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
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 2
    epochs = [e for e in events if e.kind == "epoch"]
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
    from wordlstm.model import token_nll

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
