"""Next-word suggestions for a text being written (co-writing, as textgenrnn's interactive mode): the
model's most likely next words after the text, with their probabilities.

The model reads the text one word at a time, its state carried (sample.Reader), and a Suggester keeps
what it has read: as the writer types on, each new word costs one LSTM step, not a read of the whole
text. A word being typed (the text ends in a letter or digit) is not read yet: the suggestions are the
words it may be becoming. Unknown words are handled as the generator handles a prompt's: skipped, or
read as <unk> where the vocabulary has it, and named.
"""
import re
from dataclasses import dataclass, field

import torch

from ..errors import UserError
from ..model.lstm import WordLSTM
from ..text.tokenizer import NEWLINE, NO_SPACE_BEFORE, SENTENCE_ENDS, tokenize_at_most
from ..text.vocab import Vocab
from .sample import read

MAX_K = 50


@dataclass(frozen=True)
class Suggestions:
    # (the word as the text writes it, its probability), most likely first; for a word being typed, its
    # probability given what is typed of it (its share among the completions: each one's alone is tiny)
    words: list[tuple[str, float]]
    partial: str = ""  # the word being typed, which the words complete ("" after a space or punctuation)
    unknown: list[str] = field(default_factory=list)  # the text's words the model does not know

    def to_dict(self) -> dict:
        """As the app's /suggest and `wordlstm suggest --json` give it."""
        return {"words": [{"word": w, "probability": round(p, 4)} for w, p in self.words], "partial": self.partial,
                "unknown": self.unknown}


class Suggester:
    """suggest(text, k) for one writer's text: keeps the model's reading of it between calls."""

    def __init__(self, model: WordLSTM, vocab: Vocab):
        if model.config.vocab_size != len(vocab):
            raise UserError(f"the model has {model.config.vocab_size} tokens but the vocabulary {len(vocab)}")
        self.model, self.vocab = model, vocab
        self.reader, self.read = None, []  # the reader, and the ids it has read
        # A text starts as a sentence does: with nothing typed yet, the model reads a full stop.
        self.start = [vocab.stoi["."]] if "." in vocab.stoi else []

    def __call__(self, text: str, k: int = 10) -> Suggestions:
        if not 1 <= k <= MAX_K:
            raise UserError(f"k must be between 1 and {MAX_K} (got {k})")
        text = text or ""
        tokens = tokenize_at_most(text, lines=self.vocab.lines)
        partial = re.search(r"[^\W_]*$", text).group()  # as typed: its case tells the suggestions' case
        if partial and tokens and tokens[-1] == partial.lower():
            tokens.pop()
        else:
            partial = ""
        encoded = self.vocab.encode_tokens(tokens)
        ids = encoded.ids or self.start
        if not ids:
            raise UserError("type a word the model knows first")
        probs = self._probs(ids).clone()  # out of inference mode: written below
        if partial:  # only the words it may be becoming
            start = partial.lower()
            probs = probs * torch.tensor([w.startswith(start) for w in self.vocab.itos], dtype=probs.dtype)
        for never in (self.vocab.unk_id, self.vocab.stoi.get(NEWLINE)):  # a line break is the writer's Enter key
            if never is not None:
                probs[never] = 0.0
        if partial and probs.sum() > 0:
            probs = probs / probs.sum()
        top = torch.topk(probs, min(k, int((probs > 0).sum())))
        # As the text would write them: each word's usual form, with a capital where a sentence starts or
        # the writer began the word with one.
        capital = partial[:1].isupper() if partial else not tokens or tokens[-1] in SENTENCE_ENDS
        forms = self.vocab.forms or {}
        words = []
        for p, i in zip(top.values.tolist(), top.indices.tolist()):
            word = forms.get(self.vocab.itos[i], self.vocab.itos[i])
            words.append((word[:1].upper() + word[1:] if capital else word, float(p)))
        return Suggestions(words, partial, encoded.unknown)

    @torch.inference_mode()
    def _probs(self, ids: list[int]) -> torch.Tensor:
        """The next word's probabilities after `ids`, reading only what is new since the last call."""
        if self.reader is not None and ids[:len(self.read)] == self.read:
            for i in ids[len(self.read):]:
                self.reader.read(i)
        else:  # a new text, or an edit before the end: read it again, in one pass
            self.reader = read(self.model, ids)
        self.read = list(ids)
        probs = self.reader.probs
        return probs / probs.sum()  # the reader's are up to a constant factor (the cache's scale)


def percent(p: float) -> str:
    """A probability for people: `12%`, and `<1%` rather than a `0%` that says nothing."""
    return "<1%" if 0 < p < 0.005 else f"{p:.0%}"


def append(text: str, word: str, partial: str = "") -> str:
    """`text` with a suggested `word` written on: in place of the `partial` word being typed, else after it,
    punctuation against the word before; a space follows, ready for the next word."""
    if partial and text.endswith(partial):
        text = text[: len(text) - len(partial)]
    if word in NO_SPACE_BEFORE or word == '"' and text.count('"') % 2:  # a closing quotation mark too
        return text.rstrip() + word + " "
    if text and not text[-1].isspace() and not (text.endswith('"') and text.count('"') % 2):  # not after an opening "
        text += " "
    return text + word + ("" if word == '"' else " ")
