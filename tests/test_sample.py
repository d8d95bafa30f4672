import pytest
import torch

from wordlstm import MAX_NEW_TOKENS, UNK, ModelConfig, UserError, Vocab, WordLSTM, generate, sample_next, stream
from wordlstm.model.lstm import Stepper
from wordlstm.text.tokenizer import SENTENCE_ENDS, Detokenizer, tokenize
from wordlstm.use.sample import Ending


def test_same_seed_same_text_and_other_seed_other_text(tiny_model, tiny_vocab):
    a = generate(tiny_model, tiny_vocab, "the cat", max_new_tokens=30, seed=1)
    b = generate(tiny_model, tiny_vocab, "the cat", max_new_tokens=30, seed=1)
    c = generate(tiny_model, tiny_vocab, "the cat", max_new_tokens=30, seed=2)
    assert a == b and a != c


def test_greedy_is_deterministic_and_top_k_1_equals_greedy(tiny_model, tiny_vocab):
    greedy = [generate(tiny_model, tiny_vocab, "the dog", max_new_tokens=25, temperature=0, seed=s) for s in (1, 2)]
    top1 = generate(tiny_model, tiny_vocab, "the dog", max_new_tokens=25, top_k=1, seed=3)
    assert greedy[0] == greedy[1] == top1


def test_stream_yields_prompt_then_one_piece_per_token(tiny_model, tiny_vocab):
    prompt = tiny_vocab.encode_prompt("The cat, ")
    pieces = list(stream(tiny_model, tiny_vocab, prompt, max_new_tokens=12, seed=0))
    # The prompt as written: a sentence starts, and its comma spaced as the tiny text spaces its marks
    assert pieces[0] == "The cat ," and len(pieces) == 13
    assert "".join(pieces) == generate(tiny_model, tiny_vocab, "The cat, ", max_new_tokens=12, seed=0)
    assert len(list(stream(tiny_model, tiny_vocab, prompt, max_new_tokens=0))) == 1


def test_top_k_and_top_p_restrict_the_support():
    probs = torch.softmax(torch.tensor([3.0, 2.5, 2.0, 0.0, -1.0, -5.0]), 0) * 3  # of any total
    g = torch.Generator().manual_seed(0)
    assert {sample_next(probs, 1.0, top_k=2, generator=g) for _ in range(300)} == {0, 1}
    shuffled = probs[[3, 0, 4, 1, 5, 2]]  # the best two at 1 and 3: drawn in proportion, 0.62 / 0.38
    picks = [sample_next(shuffled, 1.0, top_k=2, generator=g) for _ in range(2000)]
    assert set(picks) == {1, 3} and abs(picks.count(1) / 2000 - 0.622) < 0.04
    picks = [sample_next(shuffled, 0.5, top_k=3, top_p=0.8, generator=g) for _ in range(2000)]  # all three together
    assert set(picks) == {1, 3} and abs(picks.count(1) / 2000 - 0.731) < 0.04
    # softmax: 0.51, 0.31, 0.19, ...: a mass of 0.6 needs the first two, renormalised to 0.62 / 0.38
    picks = [sample_next(probs, 1.0, top_p=0.6, generator=g) for _ in range(2000)]
    assert set(picks) == {0, 1} and abs(picks.count(0) / 2000 - 0.622) < 0.04
    assert {sample_next(probs, 1.0, top_p=0.3, generator=g) for _ in range(100)} == {0}
    assert len({sample_next(probs, 1.0, generator=g) for _ in range(2000)}) >= 5  # off: wide support
    assert sample_next(probs, 0.0) == 0
    # A low temperature raises tiny probabilities to a high power: that must not round them all to zero.
    assert {sample_next(torch.tensor([1e-6, 2e-6, 1e-7]), 0.05, generator=g) for _ in range(50)} == {1}


def test_unk_is_never_generated():
    vocab = Vocab([UNK, "a", "b"])
    model = WordLSTM(ModelConfig(3, 4, 4, 1))
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([10.0, 0.0, 0.0]))  # <unk> is by far the likeliest
    text = generate(model, vocab, "a", max_new_tokens=50, seed=0)
    assert UNK not in text and len(text.split()) == 51


@pytest.mark.parametrize("settings, message", [
    ({"temperature": -0.1}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"top_k": -1}, "top_k"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"max_new_tokens": -1}, "max_new_tokens"), ({"max_new_tokens": MAX_NEW_TOKENS + 1}, "max_new_tokens"),
])
def test_bad_settings_fail_before_any_output(tiny_model, tiny_vocab, settings, message):
    with pytest.raises(UserError, match=message):
        stream(tiny_model, tiny_vocab, tiny_vocab.encode_prompt("the cat"), **settings)


def test_generation_is_o1_per_token(tiny_model, tiny_vocab, monkeypatch):
    """The prompt is fed once; then each step feeds exactly one token per sequence."""
    fed = []
    prompt_fn, step = tiny_model.eval_features, Stepper.__call__
    monkeypatch.setattr(tiny_model, "eval_features", lambda x, s=None: fed.append(tuple(x.shape)) or prompt_fn(x, s))
    monkeypatch.setattr(Stepper, "__call__", lambda self, x, s: fed.append(tuple(x.shape)) or step(self, x, s))
    generate(tiny_model, tiny_vocab, "the cat sat on the mat", max_new_tokens=20, seed=0)
    assert fed == [(1, 6)] + [(1,)] * 19


def test_generating_leaves_the_model_in_its_mode_and_uses_no_dropout(tiny_corpus):
    """A model in train mode (e.g. the card's samples during training) generates exactly as in eval mode,
    and stays in train mode."""
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 3, dropout=0.5))
    settings = dict(max_new_tokens=30, temperature=1.0, seed=5)
    training = generate(model.train(), tiny_corpus.vocab, "the cat sat on", **settings)
    assert model.training
    assert training == generate(model.eval(), tiny_corpus.vocab, "the cat sat on", **settings)


def generated(text: str, prompt: str) -> list[str]:
    return tokenize(text)[len(tokenize(prompt)):]


def test_a_text_ends_after_the_sentences_asked_for_as_the_unbounded_one_would_have_gone(tiny_model, tiny_vocab):
    prompt = tiny_vocab.encode_prompt("the cat")
    full = "".join(stream(tiny_model, tiny_vocab, prompt, max_new_tokens=300, seed=4))
    ends = sum(t in SENTENCE_ENDS for t in generated(full, "the cat"))
    assert ends >= 2  # a random model of a text with full stops writes some
    pieces = stream(tiny_model, tiny_vocab, prompt, max_new_tokens=300, seed=4, ending=Ending.of(tiny_vocab, 2))
    text = "".join(pieces)
    tokens = generated(text, "the cat")
    body = text if full.startswith(text) else text.removesuffix('"')  # a quotation left open, closed at the end
    assert full.startswith(body) and sum(t in SENTENCE_ENDS for t in tokens) == 2
    assert tokens[-1] in SENTENCE_ENDS or tokens[-2:][0] in SENTENCE_ENDS and tokens[-1] == '"'
    assert pieces.why == "after 2 sentences"


def test_a_text_never_leaves_a_quotation_open(tiny_model, tiny_vocab):
    prompt = tiny_vocab.encode_prompt("the cat")
    texts = ["".join(stream(tiny_model, tiny_vocab, prompt, max_new_tokens=25, seed=seed)) for seed in range(30)]
    assert all(t.count('"') % 2 == 0 for t in texts)
    assert any('"' in t for t in texts)  # a random model of a text with quotes writes some


def test_a_text_ends_at_the_first_stop_word_or_else_at_its_bound(tiny_model, tiny_vocab):
    prompt = tiny_vocab.encode_prompt("the cat")
    full = "".join(stream(tiny_model, tiny_vocab, prompt, max_new_tokens=50, seed=6))
    word = generated(full, "the cat")[3]
    pieces = stream(tiny_model, tiny_vocab, prompt, max_new_tokens=50, seed=6, ending=Ending.of(tiny_vocab, stop=word))
    text = "".join(pieces)
    tokens = generated(text, "the cat")
    assert full.startswith(text) and tokens[-1] == word and tokens.count(word) == 1 and len(tokens) <= 4
    assert pieces.why == f"at {word!r}"
    unused = next(w for w in tiny_vocab.itos if w.isalpha() and w not in generated(full, "the cat")[:5])
    bounded = stream(tiny_model, tiny_vocab, prompt, max_new_tokens=5, seed=6, ending=Ending.of(tiny_vocab, stop=unused))
    assert full.startswith("".join(bounded)) and bounded.why == "at the 5-token bound"


@pytest.mark.parametrize("sentences, stop, message", [
    (-1, None, "sentences must be 0"), (0, "qqqzzz", "the model never writes 'qqqzzz'")])
def test_an_ending_that_cannot_be_met_is_refused_by_name(tiny_vocab, sentences, stop, message):
    with pytest.raises(UserError, match=message):
        Ending.of(tiny_vocab, sentences, stop)


def test_the_detokenizer_knows_whether_a_quotation_is_open():
    detok = Detokenizer()
    assert not detok.closes('"') and not detok.closes(".")
    detok.add('"')
    assert detok.closes('"')
    detok.add("hello")
    detok.add('"')
    assert not detok.closes('"')
