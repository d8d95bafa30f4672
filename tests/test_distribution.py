"""One next-word distribution: WordLSTM.next_log_probs. Validation (text_nll) and generation
(sample.Reader) take faster paths to it; these tests pin each path to it, for both output layers,
with the cache and the unseen words' share on and off."""
import pytest
import torch

from test_cache import ADAPTIVE, mixes, next_word_distribution
from wordlstm import ModelConfig, WordLSTM
from wordlstm.use.sample import Reader

# float32 throughout: the paths sum the same terms in another order, so they agree to rounding, not to the bit.
TOLERANCE = dict(rtol=1e-4, atol=1e-6)


def model_with(vocab, extra, mix):
    torch.manual_seed(0)
    mixed = [dict(cache_lambda=0.0, unseen_share=0.0), *mixes(vocab)][mix]
    return WordLSTM(ModelConfig(len(vocab), 16, 16, 2, **extra, **mixed)).eval()


def one_text(model, ids):
    """next_log_probs over one text, every position reading the positions before it."""
    out, _ = model.eval_features(torch.tensor([ids]))
    pos = torch.arange(len(ids))
    return model.next_log_probs(out[0], pos, out[0][:-1], pos[:-1], torch.tensor(ids[1:]))


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(4))  # the model alone; the cache; the cache and the share; the share
def test_the_distribution_is_the_formula_written_out(tiny_corpus, extra, mix):
    model = model_with(tiny_corpus.vocab, extra, mix)
    ids = tiny_corpus.ids[:12].tolist()
    logp = one_text(model, ids)
    for k in range(1, len(ids) + 1):
        assert torch.allclose(logp[k - 1].exp(), next_word_distribution(model, ids[:k]), **TOLERANCE)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(len(ids)), atol=1e-5)


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(4))
def test_validation_reads_the_one_distribution(tiny_corpus, extra, mix):
    model = model_with(tiny_corpus.vocab, extra, mix)
    x = tiny_corpus.ids[:33].view(3, 11).long()  # three windows, each a text of its own
    out, _ = model.eval_features(x[:, :-1])
    nll = model.text_nll(out, x[:, 1:])
    for row in range(3):
        logp = one_text(model, x[row, :-1].tolist())
        expected = -logp.gather(1, x[row, 1:, None]).squeeze(1)
        assert torch.allclose(nll[row], expected, **TOLERANCE)


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", range(4))
def test_generation_reads_the_one_distribution(tiny_corpus, extra, mix):
    model = model_with(tiny_corpus.vocab, extra, mix)
    ids = tiny_corpus.ids[:15].tolist()
    logp = one_text(model, ids)
    reader = Reader(model, ids[:3])  # a prompt of three words, then one word at a time
    for k in range(3, len(ids) + 1):
        probs = reader.probs / reader.probs.sum()  # the reader's sum to 1 / (1 - λ): sampling needs no more
        assert torch.allclose(probs, logp[k - 1].exp(), **TOLERANCE)
        if k < len(ids):
            reader.read(ids[k])
