import pytest
import torch
import torch.nn.functional as F

from wordlstm import SIZES, ModelConfig, TrainConfig, UserError, WordLSTM
from wordlstm.model.lstm import default_cutoffs, dropout
from wordlstm.planning.defaults import size_settings, split_settings


ADAPTIVE = {"softmax": "adaptive", "cutoffs": [10, 25]}  # a small vocabulary with two rare-word clusters


def test_defaults_are_the_books():
    c = ModelConfig(vocab_size=100)
    assert (c.embed_dim, c.hidden_size, c.num_layers, c.dropout) == (128, 128, 3, 0.2)
    m = WordLSTM(c)
    assert m.lstm.num_layers == 3 and m.lstm.dropout == 0.2 and m.head.out_features == 100


def test_softmax_auto_resolves_by_vocabulary_size():
    assert default_cutoffs(1999) == [] and default_cutoffs(12_778) == [1000, 5000]
    assert default_cutoffs(100_000) == [1000, 5000, 25000]
    small, book = ModelConfig(1999), ModelConfig(12_778)
    assert (small.softmax, small.cutoffs) == ("full", None)
    assert (book.softmax, book.cutoffs) == ("adaptive", [1000, 5000])
    assert ModelConfig(12_778, 128, 128, tie_weights=True).softmax == "adaptive"  # tied: adaptive input
    assert ModelConfig(12_778, softmax="full").cutoffs is None
    assert WordLSTM(book).head.n_clusters == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"softmax": "hierarchical"}, "softmax must be auto, full or adaptive"),
    ({"softmax": "adaptive", "cutoffs": [25, 10]}, "cutoffs must be increasing"),
    ({"softmax": "adaptive", "cutoffs": [10, 40]}, "between 1 and vocab_size - 1 = 39"),
    ({"softmax": "adaptive"}, "the adaptive output layer needs a vocabulary of 2,000 words or more \\(this one has 40\\)"),
])
def test_bad_softmax_config(kwargs, message):
    with pytest.raises(UserError, match=message):
        ModelConfig(40, **kwargs)


def test_adaptive_scores_are_exact_log_probabilities():
    m = WordLSTM(ModelConfig(40, 16, 16, 2, **ADAPTIVE)).eval()
    x, y = torch.randint(0, 40, (3, 7)), torch.randint(0, 40, (3, 7))
    logits, _ = m(x)
    assert logits.shape == (3, 7, 40)
    assert torch.allclose(logits.logsumexp(-1), torch.zeros(3, 7), atol=1e-5)
    out, _ = m.features(x)
    expected = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # what evaluation with full scores gives
    assert torch.allclose(m.loss(out, y), expected, atol=1e-5)
    assert torch.allclose(m.loss(out, y, reduction="sum"), expected * 21, atol=1e-4)


def test_adaptive_loss_matches_torchs_module_with_gradients():
    m = WordLSTM(ModelConfig(40, 16, 16, 2, **ADAPTIVE))
    out = torch.randn(50, 16, requires_grad=True)
    target = torch.randint(0, 40, (50,))
    ref = -m.head(out, target).output
    ref_grad, = torch.autograd.grad(ref.sum(), out)
    ours = m.loss(out, target, reduction="sum")
    grad, = torch.autograd.grad(ours, out)
    assert torch.allclose(ours, ref.sum(), atol=1e-4) and torch.allclose(grad, ref_grad, atol=1e-5)


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
def test_output_bias_starts_at_the_unigram_distribution(extra):
    m = WordLSTM(ModelConfig(40, 16, 16, 1, **extra)).eval()
    counts = torch.arange(40, 0, -1) ** 2  # frequency-sorted, as the vocabulary is
    m.init_output_bias(counts)
    with torch.no_grad():  # zero the weights feeding the head: the prediction is the bias alone
        for p in m.head.parameters():
            if p.dim() == 2:
                p.zero_()
    probs = m(torch.tensor([[0, 1]]))[0][0, -1].softmax(-1)
    expected = counts / counts.sum()
    if extra:  # the head's words exactly; each cluster's mass, spread evenly over its words
        for a, b in [(10, 25), (25, 40)]:
            expected[a:b] = expected[a:b].mean()
    assert torch.allclose(probs, expected.float(), atol=1e-3)


def test_shapes_state_and_finite_loss():
    m = WordLSTM(ModelConfig(50, 8, 12, 2))
    x = torch.randint(0, 50, (3, 7))
    logits, (h, c) = m(x)
    assert logits.shape == (3, 7, 50) and h.shape == c.shape == (2, 3, 12)
    loss = F.cross_entropy(logits.flatten(0, 1), torch.randint(0, 50, (21,)))
    assert torch.isfinite(loss) and abs(loss.item() - torch.log(torch.tensor(50.0)).item()) < 1.0
    out, _ = m.eval_features(x)  # in train mode: no dropout all the same, and the mode is kept
    assert m.training and m.lstm.training
    m.eval()
    assert torch.allclose(m.logits(out), m(x)[0], atol=1e-6)


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


def test_tied_adaptive_embeddings_are_the_output_vectors():
    """Tied under the adaptive softmax: no embedding matrix; a word's embedding is its
    shortlist row, or its cluster row through the cluster's projection, and training
    the inputs trains those."""
    torch.manual_seed(0)
    m = WordLSTM(ModelConfig(40, 16, 16, 1, tie_weights=True, **ADAPTIVE))
    untied = WordLSTM(ModelConfig(40, 16, 16, 1, **ADAPTIVE))
    assert m.embed is None
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in m.parameters()) == 40 * 16
    (proj1, words1), (proj2, words2) = [(p.weight, w.weight) for p, w in m.head.tail]  # words 10-24, 25-39
    table = m.embedding_table()
    assert torch.equal(table[:10], m.head.head.weight[:10])
    assert torch.allclose(table[10:25], words1 @ proj1) and torch.allclose(table[25:], words2 @ proj2)
    x = torch.tensor([[3, 12, 30], [30, 0, 24]])
    assert torch.allclose(m.embedding(x), table[x])
    m.embedding(torch.tensor([[12]])).sum().backward()  # a cluster word's input trains its cluster row
    assert words1.grad[2].abs().sum() > 0 and not words1.grad[[0, 1, *range(3, 15)]].any()
    assert m.head.head.weight.grad is None or not m.head.head.weight.grad.any()


@pytest.mark.parametrize("extra", [{}, {"tie_weights": True}, ADAPTIVE, {"tie_weights": True, **ADAPTIVE}])
def test_step_matches_forward(extra):
    """The generation fast path computes exactly the probabilities that forward()'s logits give."""
    m = WordLSTM(ModelConfig(40, 16, 16, 3, dropout=0.5, **extra)).eval()
    x = torch.randint(0, 40, (2, 8))
    full, (h_full, c_full) = m(x)
    out, state = m.eval_features(x[:, :3])
    step = m.stepper()
    steps = [step.probs(out[:, -1])]
    for t in range(3, 8):
        probs, state = step(x[:, t], state)
        steps.append(probs)
    assert torch.allclose(torch.stack(steps, 1), torch.softmax(full[:, 2:], dim=-1), atol=1e-6)
    h, c = (torch.stack(s) for s in state)
    assert torch.allclose(h, h_full, atol=1e-5) and torch.allclose(c, c_full, atol=1e-5)


def test_dropout_masks_at_rate_p_and_rescales():
    torch.manual_seed(0)
    out = dropout(torch.ones(400_000), 0.2)
    assert set(out.unique().tolist()) == {0.0, 1.25}  # kept values scaled by 1 / (1 - p)
    for lane in range(4):  # each 16-bit slice of a 64-bit draw is a fair coin of its own
        assert abs((out[lane::4] == 0).float().mean().item() - 0.2) < 0.005
    assert not torch.equal(dropout(torch.ones(1000), 0.5), dropout(torch.ones(1000), 0.5))
    torch.manual_seed(1)
    a = dropout(torch.ones(1000), 0.5)
    torch.manual_seed(1)
    assert torch.equal(a, dropout(torch.ones(1000), 0.5))  # the global seed decides, so resume stays exact


def test_cpu_training_path_is_nn_lstm_with_our_dropout(monkeypatch):
    """In training on the CPU, features() runs the layers one by one with
    dropout() between them: without dropout, the same numbers as nn.LSTM."""
    torch.manual_seed(0)
    m = WordLSTM(ModelConfig(50, 16, 16))
    x = torch.randint(0, 50, (3, 7))
    state = tuple(torch.randn(3, 3, 16) for _ in range(2))
    m.train()
    monkeypatch.setattr("wordlstm.model.lstm.dropout", lambda x, p: x)
    out, (h, c) = m.features(x, state)
    out.sum().backward()
    grads = [p.grad.clone() for p in m.lstm.parameters()]
    m.zero_grad()
    m.lstm.eval()  # nn.LSTM alone, with its dropout off
    ref, (h_ref, c_ref) = m.lstm(m.embed(x), state)
    ref.sum().backward()
    torch.testing.assert_close((out, h, c), (ref, h_ref, c_ref))
    torch.testing.assert_close(grads, [p.grad for p in m.lstm.parameters()])
    m.train()
    monkeypatch.undo()
    torch.manual_seed(0)
    assert not torch.allclose(m.features(x, state)[0], ref)  # and with it, dropout applies


def test_locked_output_dropout_uses_one_mask_per_sequence_and_only_in_training():
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(50, 8, 16, 1, dropout=0.0, output_dropout=0.5)).train()
    x = torch.randint(50, (4, 12))
    out, _ = model.features(x)
    dropped = out == 0
    assert dropped.any() and (dropped == dropped[:, :1]).all()  # a unit is dropped at every step, or at none
    assert 0.3 < dropped[:, 0].float().mean() < 0.7
    kept = ~dropped
    plain, _ = model.eval_features(x)
    assert torch.allclose(out[kept], 2 * plain[kept], atol=1e-6)  # the kept units are scaled by 1 / (1 - p)
    assert torch.equal(model.eval().features(x)[0], plain)  # no dropout outside training


@pytest.mark.parametrize("tied", [{}, {"tie_weights": True, "embed_dim": 16, **ADAPTIVE}])
def test_embedding_dropout_drops_whole_words(tied):
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(50, **{"embed_dim": 8, **tied}, hidden_size=16, num_layers=1, dropout=0.0,
                                 embed_dropout=0.5)).train()
    x = torch.arange(50).repeat(3, 2)  # every word six times
    emb = model._embedded(x)
    zero = (emb == 0).all(-1)
    assert zero.any() and not zero.all()
    for word in range(50):  # a word is dropped everywhere in the batch, or nowhere
        assert zero[x == word].all() or not zero[x == word].any()
    assert torch.allclose(emb[~zero], 2 * model.embedding(x)[~zero])


def test_locked_input_dropout_masks_an_embedding_unit_for_the_whole_sequence():
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(50, 8, 16, 1, dropout=0.0, input_dropout=0.5)).train()
    x = torch.randint(50, (4, 12))
    seen = []
    model.lstm.register_forward_pre_hook(lambda m, args: seen.append(args[0]))  # what the LSTM is fed
    model.features(x)
    fed = seen[0]
    dropped = fed == 0
    assert dropped.any() and (dropped == dropped[:, :1]).all()  # the same units at every step
    assert torch.allclose(fed[~dropped], 2 * model.embed(x)[~dropped])


def test_weight_drop_masks_recurrent_weights_once_per_batch_and_only_in_training():
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(50, 8, 16, 2, dropout=0.0, weight_drop=0.5)).train()
    x = torch.randint(50, (4, 12))
    out, _ = model.features(x)
    out.sum().backward()
    for layer in range(2):
        w_hh = getattr(model.lstm, f"weight_hh_l{layer}")
        zero = w_hh.grad == 0  # a dropped connection gets no gradient from any step
        assert 0.3 < zero.float().mean() < 0.7
        assert (getattr(model.lstm, f"weight_ih_l{layer}").grad != 0).float().mean() > 0.9  # the input side is kept
    plain, _ = model.eval_features(x)
    assert not torch.allclose(model.features(x)[0], plain)
    assert torch.equal(model.eval().features(x)[0], plain)  # no mask outside training


def test_regularizers_switched_off_draw_nothing():
    """At 0 they must not touch the random stream: the old numbers stay exactly the same."""
    x = torch.randint(50, (4, 12))
    for p, draws in ((0.0, False), (0.3, True)):
        model = WordLSTM(ModelConfig(50, 8, 16, 2, dropout=0.0, output_dropout=p, embed_dropout=p, input_dropout=p,
                                     weight_drop=p)).train()
        before = torch.get_rng_state()
        model.features(x)
        assert torch.equal(torch.get_rng_state(), before) != draws


def test_the_small_size_is_the_default_model_and_every_size_builds():
    assert SIZES["small"] == {}  # a size names only what it changes
    model_settings, train_settings = split_settings(size_settings("small"))
    assert ModelConfig.from_dict(model_settings, vocab_size=5000) == ModelConfig(5000)
    assert TrainConfig.from_dict(train_settings) == TrainConfig()
    for name in SIZES:
        model_settings, train_settings = split_settings(size_settings(name))
        model = WordLSTM(ModelConfig.from_dict(model_settings, vocab_size=5000))
        assert model.lstm.hidden_size == size_settings(name)["hidden_size"] and model.adaptive, name
    with pytest.raises(UserError, match="there is no setting 'hiden_size'"):
        split_settings({"hiden_size": 64})


def test_a_config_names_the_key_it_does_not_know():
    with pytest.raises(UserError, match="ModelConfig has no setting 'hiden_size'"):
        ModelConfig.from_dict({"vocab_size": 50, "hiden_size": 64})
    with pytest.raises(UserError, match="TrainConfig has no setting 'epoch'"):
        TrainConfig.from_dict({"epoch": 3})
