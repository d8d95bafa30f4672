"""The continuous cache and the unseen words' share: validation, scoring and generation all read the same
mixture, checked against the formula written out by hand; off, they change nothing."""
import json

import pytest
import torch

import wordlstm.use.sample
from wordlstm import ModelConfig, UserError, WordLSTM, evaluate, generate, load_checkpoint, save_checkpoint

ADAPTIVE = dict(softmax="adaptive", cutoffs=[6, 12])
CACHE = dict(cache_lambda=0.3, cache_theta=1.0, cache_size=4)
UNSEEN = ("mat", "dog", "bird")  # words of the tiny corpus's vocabulary, given the unseen words' share in tests


def mixes(vocab) -> list[dict]:
    """The cache alone, the cache and the unseen words' share, the share alone."""
    share = dict(unseen_share=0.2, unseen_ids=[vocab.stoi[w] for w in UNSEEN])
    return [CACHE, {**CACHE, **share}, {**share, "cache_lambda": 0.0}]


def next_word_distribution(model, ids: list[int]) -> torch.Tensor:
    """p(next word | ids), from first principles: the output layer's softmax after the last word, mixed with
    a softmax over the (at most cache_size) earlier positions of θ h_t·h_i, each voting for the word after it,
    then with the unseen words' share, spread evenly over them."""
    c = model.config
    with torch.no_grad():
        out = model.eval_features(torch.tensor([ids]))[0][0]  # (T, H)
        p = torch.softmax(model.logits(out[-1:])[0].float(), dim=-1)
        t = len(ids) - 1
        earlier = list(range(max(0, t - c.cache_size), t))
        if c.cache_lambda and earlier:
            votes = torch.softmax(torch.stack([c.cache_theta * out[t] @ out[i] for i in earlier]), dim=0)
            p_cache = torch.zeros_like(p)
            for i, vote in zip(earlier, votes):
                p_cache[ids[i + 1]] += vote
            p = (1 - c.cache_lambda) * p + c.cache_lambda * p_cache
        if c.unseen_share:
            q = torch.zeros_like(p)
            q[c.unseen_ids] = 1 / len(c.unseen_ids)
            p = (1 - c.unseen_share) * p + c.unseen_share * q
        return p


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(3))
def test_validation_reads_the_mixture_window_by_window(tiny_corpus, extra, mix):
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, **extra, **mixes(tiny_corpus.vocab)[mix])).eval()
    ids = tiny_corpus.ids[:31]
    expected = []
    for start in (0, 10, 20):  # three windows of 10, each its own text: the cache starts empty in each
        window = ids[start:start + 11].tolist()
        expected += [-next_word_distribution(model, window[:k])[window[k]].log() for k in range(1, 11)]
    assert evaluate(model, ids, 10) == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(3))
def test_generation_samples_from_the_mixture(tiny_corpus, extra, mix, monkeypatch):
    """What sample_next is given is the mixture's probabilities up to a constant, at every step,
    also once the generated text is longer than the cache (its ring wraps)."""
    torch.manual_seed(0)
    vocab = tiny_corpus.vocab
    model = WordLSTM(ModelConfig(len(vocab), 16, 16, 2, **extra, **mixes(vocab)[mix]))
    seen, sample_next = [], wordlstm.use.sample.sample_next
    monkeypatch.setattr(wordlstm.use.sample, "sample_next", lambda probs, *a: seen.append(probs / probs.sum()) or
                        sample_next(probs, *a))
    prompt = "the cat sat on the"
    text = generate(model, vocab, prompt, max_new_tokens=12, seed=3)
    ids = vocab.encode(text).ids
    assert len(seen) == 12 and len(ids) == 5 + 12
    for k, probs in enumerate(seen):
        assert torch.allclose(probs, next_word_distribution(model, ids[:5 + k]), atol=1e-6)
    if model.config.cache_lambda:
        assert seen[-1].max() > 0.2 * CACHE["cache_lambda"]  # the cache does move it
    if model.config.unseen_share:  # and the share: the three words get at least their part of it
        assert (seen[-1][model.config.unseen_ids] > 0.2 / 3 * 0.99).all()


def test_off_it_gives_the_old_numbers(tiny_corpus):
    torch.manual_seed(0)
    off = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, cache_lambda=0.0)).eval()
    x, y = tiny_corpus.ids[None, :40], tiny_corpus.ids[None, 1:41]
    out, _ = off.eval_features(x)
    assert torch.equal(off.text_nll(out, y), off.loss(out, y, reduction="none").view(1, 40))
    on = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, cache_lambda=0.05))
    on.load_state_dict(off.state_dict())
    assert not torch.equal(on.text_nll(out, y), off.text_nll(out, y))  # same weights: only the cache differs


def test_the_cache_copies_a_passage_seen_earlier_in_the_text():
    """A passage of rare words read a second time: the model alone cannot know them, the cache can."""
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(500, 32, 32, 1, cache_lambda=0.0)).eval()
    model.init_output_bias(torch.arange(500, 0, -1) ** 2)  # frequent words first, as in a real vocabulary
    passage = torch.randint(400, 500, (20,))
    x = torch.cat([passage, passage])[None]
    out, _ = model.eval_features(x[:, :-1])
    plain = model.text_nll(out, x[:, 1:])[0, 20:].mean()
    model.config.cache_lambda, model.config.cache_theta = 0.3, 1.0
    cached = model.text_nll(out, x[:, 1:])[0, 20:].mean()
    assert cached < plain - 3  # nats: about 20 times likelier


@pytest.mark.parametrize("field, value", [("cache_lambda", 1.0), ("cache_lambda", -0.1), ("cache_theta", -1.0),
                                          ("cache_theta", float("nan")), ("cache_size", 0)])
def test_bad_settings_are_clear_errors(field, value):
    with pytest.raises(UserError, match=field):
        ModelConfig(100, **{field: value})


def test_a_checkpoint_from_before_the_cache_loads_with_it_off(tiny_corpus, tmp_path):
    model = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 8, 8, 1, cache_lambda=0.2))
    save_checkpoint(tmp_path, model, tiny_corpus.vocab)
    assert load_checkpoint(tmp_path).model.config.cache_lambda == 0.2  # recorded, and read back
    config = json.loads((tmp_path / "config.json").read_text())
    for field in ("cache_lambda", "cache_theta", "cache_size"):
        del config["model"][field]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(tmp_path).model.config.cache_lambda == 0.0
