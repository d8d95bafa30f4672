import pytest
import torch
import torch.nn.functional as F

from wordlstm import ModelConfig, UserError, WordLSTM


def test_defaults_are_the_books():
    c = ModelConfig(vocab_size=100)
    assert (c.embed_dim, c.hidden_size, c.num_layers, c.dropout) == (128, 128, 3, 0.2)
    m = WordLSTM(c)
    assert m.lstm.num_layers == 3 and m.lstm.dropout == 0.2 and m.head.out_features == 100


def test_shapes_state_and_finite_loss():
    m = WordLSTM(ModelConfig(50, 8, 12, 2))
    x = torch.randint(0, 50, (3, 7))
    logits, (h, c) = m(x)
    assert logits.shape == (3, 7, 50) and h.shape == c.shape == (2, 3, 12)
    loss = F.cross_entropy(logits.flatten(0, 1), torch.randint(0, 50, (21,)))
    assert torch.isfinite(loss) and abs(loss.item() - torch.log(torch.tensor(50.0)).item()) < 1.0
    last, _ = m.next_logits(x)
    m.eval()
    assert torch.allclose(m.next_logits(x)[0], m(x)[0][:, -1], atol=1e-6)
    assert last.shape == (3, 50)


def test_state_carries_context():
    m = WordLSTM(ModelConfig(50, 8, 12, 2, dropout=0.0)).eval()
    x = torch.randint(0, 50, (1, 10))
    full, _ = m(x)
    _, state = m(x[:, :6])
    rest, _ = m(x[:, 6:], state)
    assert torch.allclose(full[:, 6:], rest, atol=1e-5)


def test_init_state_follows_the_weights_dtype():
    m = WordLSTM(ModelConfig(10, 4, 4, 1)).double()
    h, c = m.init_state(5)
    assert h.dtype == torch.float64 and h.shape == (1, 5, 4) and not h.any()


def test_tie_weights():
    m = WordLSTM(ModelConfig(30, 16, 16, tie_weights=True))
    assert m.head.weight is m.embed.weight
    with pytest.raises(UserError, match="tie_weights needs embed_dim == hidden_size"):
        ModelConfig(30, 16, 32, tie_weights=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"vocab_size": 0}, "vocab_size"), ({"vocab_size": 5, "num_layers": 0}, "num_layers"),
    ({"vocab_size": 5, "dropout": 1.0}, "dropout"),
])
def test_bad_model_config(kwargs, message):
    with pytest.raises(UserError, match=message):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("tie", [False, True])
def test_step_matches_forward(tie):
    """The generation fast path computes exactly what forward() computes."""
    m = WordLSTM(ModelConfig(40, 16, 16, 3, dropout=0.5, tie_weights=tie)).eval()
    x = torch.randint(0, 40, (2, 8))
    full, (h_full, c_full) = m(x)
    logits, state = m.next_logits(x[:, :3])
    steps = [logits]
    for t in range(3, 8):
        logits, state = m.step(x[:, t], state)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full[:, 2:], atol=1e-5)
    h, c = (torch.stack(s) for s in state)
    assert torch.allclose(h, h_full, atol=1e-5) and torch.allclose(c, c_full, atol=1e-5)
