"""Next-word suggestions (wordlstm/suggest.py): the model's distribution after the text, read incrementally."""
import pytest
import torch

from wordlstm import UserError
from wordlstm.use.sample import Reader
from wordlstm.use.suggest import Suggester, append, percent


def test_the_suggestions_are_the_models_most_likely_next_words(tiny_model, tiny_vocab):
    found = Suggester(tiny_model, tiny_vocab)("the cat sat on the ", k=5)
    probs = Reader(tiny_model, tiny_vocab.encode("the cat sat on the").ids).probs
    probs = probs / probs.sum()
    expected = [tiny_vocab.itos[i] for i in torch.topk(probs, 5).indices.tolist()]
    assert [w for w, _ in found.words] == expected and found.partial == "" and found.unknown == []
    assert [p for _, p in found.words] == pytest.approx(torch.topk(probs, 5).values.tolist(), rel=1e-5)


def test_typing_on_reads_only_the_new_words_and_gives_what_a_fresh_reading_gives(tiny_model, tiny_vocab, monkeypatch):
    suggester, steps = Suggester(tiny_model, tiny_vocab), []
    read = Reader.read
    monkeypatch.setattr(Reader, "read", lambda self, i: steps.append(i) or read(self, i))
    text = "the cat sat on the mat . the dog "
    for end in range(1, len(text) + 1):
        if text[end - 1] == " ":  # a word typed, then a space
            suggester(text[:end])
    assert len(steps) == len(tiny_vocab.encode(text).ids) - 1  # one step per word after the first
    same(suggester(text), Suggester(tiny_model, tiny_vocab)(text))  # the stepper's sums, or one pass's
    suggester("the bird ")  # an edit before the end: read again, from the start
    same(suggester("the bird "), Suggester(tiny_model, tiny_vocab)("the bird "))


def same(a, b):
    assert [w for w, _ in a.words] == [w for w, _ in b.words]
    assert [p for _, p in a.words] == pytest.approx([p for _, p in b.words], rel=1e-4)


def test_a_word_being_typed_gets_its_completions_in_the_case_typed(tiny_model, tiny_vocab):
    found = Suggester(tiny_model, tiny_vocab)("the cat sat on the B", k=10)
    assert found.partial == "B" and found.words and all(w.startswith("B") for w, _ in found.words)
    assert {w.lower() for w, _ in found.words} <= {w for w in tiny_vocab.itos if w.startswith("b")}


def test_unknown_words_are_named_and_a_bad_k_is_refused(tiny_model, tiny_vocab):
    assert Suggester(tiny_model, tiny_vocab)("the zebra sat ").unknown == ["zebra"]
    with pytest.raises(UserError, match="k must be between 1 and 50"):
        Suggester(tiny_model, tiny_vocab)("the cat ", k=0)


@pytest.mark.parametrize("text, word, partial, written", [
    ("Anna, and the ", "prince", "", "Anna, and the prince "),
    ("Anna, and the Pr", "Prince", "Pr", "Anna, and the Prince "),
    ("Anna, and the prince ", ",", "", "Anna, and the prince, "),
    ('She said, "Yes', '"', "", 'She said, "Yes" '),
    ('She said, "', "I", "", 'She said, "I '),
])
def test_a_picked_word_is_written_on_as_text_is_written(text, word, partial, written):
    assert append(text, word, partial) == written


def test_a_word_being_typed_gets_each_completions_share_never_a_zero_percent(tiny_model, tiny_vocab):
    """Mid-word, each completion's probability is given what is typed of it: alone, each one's share of every
    next word read "0%" in the menu ("complex 0%, company 0%") and "0.0000" in the command line."""
    typed = Suggester(tiny_model, tiny_vocab)("the cat sat on the m", k=50)
    after = Reader(tiny_model, tiny_vocab.encode("the cat sat on the").ids).probs
    after = after / after.sum()
    completions = [i for i, w in enumerate(tiny_vocab.itos) if w.startswith("m")]
    expected = (after[completions] / after[completions].sum()).sort(descending=True).values.tolist()
    assert [p for _, p in typed.words] == pytest.approx(expected, rel=1e-5) and sum(expected) == pytest.approx(1)
    assert percent(0.0004) == "<1%" and percent(0.26) == "26%" and percent(0.0) == "0%"
