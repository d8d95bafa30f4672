"""The vocabulary: word <-> id, sorted by frequency (most frequent = 0).

Ties keep the order of first occurrence, as the book's `sorted(Counter)` does.

About <unk>: it exists only when it is needed, that is when `min_count` or
`max_vocab` dropped words (or the text itself contains the word "<unk>", as
WikiText does). Then every dropped word maps to it and it takes its place in
the frequency order like any other word. With the defaults nothing is dropped,
so the vocabulary is exactly the book's. Unknown words in a prompt map to
<unk> when it exists and are dropped otherwise; either way they are reported.
"""
import json
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .surface import Surface
from .tokenizer import NEWLINE, tokenize

UNK = "<unk>"
_CHUNK_CHARS = 1 << 16  # clean and count this much text at a time: bounded memory
_SPACE = re.compile(r"\s")
_NOT_CR = re.compile(r"[^\S\r]")


@dataclass
class Encoded:
    ids: list[int]
    tokens: list[str]  # the cleaned prompt, unknown words included
    unknown: list[str] = field(default_factory=list)  # distinct, in order of appearance


class Vocab:
    def __init__(self, itos: list[str], counts: list[int] | None = None, forms: dict[str, str] | None = None):
        if len(set(itos)) != len(itos):
            raise UserError("the vocabulary lists a word twice; the file is corrupt")
        self.itos = list(itos)
        self.counts = list(counts) if counts is not None else [0] * len(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.unk_id = self.stoi.get(UNK)
        # Each word's most frequent written form in the training text, where it is not the word itself
        # (tokenizer.written_forms), for text that reads as the training text is written. None: not
        # recorded (a vocabulary saved before forms were), and the text stays in the book's lower case.
        self.forms = None if forms is None else {
            w: f for w, f in forms.items() if w in self.stoi and isinstance(f, str) and f.lower() == w}
        self.surface: Surface | None = None  # the text's case and spacing by context (surface.py); None: the rules
        self.lines = False  # whether its text kept its line breaks as NEWLINE tokens (lines.py)

    def __len__(self):
        return len(self.itos)

    # -- building from a corpus ------------------------------------------------
    @classmethod
    def build(cls, text: str, min_count: int = 1, max_vocab: int | None = None):
        """Returns (vocab, ids): ids is the whole text as an int32 numpy array."""
        vocab, ids, _ = cls.build_documents([text], min_count, max_vocab)
        return vocab, ids

    @classmethod
    def build_documents(cls, texts: list[str], min_count: int = 1, max_vocab: int | None = None,
                        lines: bool = False):
        """Returns (vocab, ids, lengths): one vocabulary for all the texts, ids them all one after the
        other as an int32 numpy array, and each text's number of tokens; with `lines`, line breaks are tokens.

        One pass: words get provisional ids in order of first occurrence, then a
        stable sort by count renumbers them. Nothing holds one object per token.
        """
        if min_count < 1:
            raise UserError(f"min_count must be at least 1 (got {min_count})")
        if max_vocab is not None and max_vocab < 2:
            raise UserError(f"max_vocab must be at least 2 (got {max_vocab})")
        first_seen: dict[str, int] = {}
        parts, lengths = [], []
        for text in texts:
            lengths.append(0)
            for chunk in _chunks(text, lines):
                words = tokenize(chunk, lines)
                for w in dict.fromkeys(words):  # the chunk's distinct words, in order: a short loop
                    if w not in first_seen:
                        first_seen[w] = len(first_seen)
                parts.append(np.fromiter(map(first_seen.__getitem__, words), dtype=np.int32, count=len(words)))
                lengths[-1] += len(words)
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        if len(ids) == 0:
            raise UserError("the corpus has no words; give a text with some words")
        words = list(first_seen)
        counts = np.bincount(ids, minlength=len(words))
        order = np.argsort(-counts, kind="stable")  # by frequency, ties by first occurrence
        keep = order[counts[order] >= min_count]
        if max_vocab is not None and len(keep) > max_vocab:
            real_unk = first_seen.get(UNK, -1) in keep[:max_vocab]
            keep = keep[: max_vocab if real_unk else max_vocab - 1]  # leave room for <unk>
        kept = np.zeros(len(words), bool)
        kept[keep] = True
        unk = first_seen.get(UNK)
        if not kept.all():  # something was dropped: route it to <unk>
            if unk is None:
                unk = len(words)
                words.append(UNK)
                counts, kept = np.append(counts, 0), np.append(kept, False)
            dropped_total = counts[~kept].sum()  # includes a real "<unk>" word if it was dropped
            counts[unk] = counts[unk] + dropped_total if kept[unk] else dropped_total
            kept[unk] = True
            keep = np.flatnonzero(kept)  # first-occurrence order...
            keep = keep[np.argsort(-counts[keep], kind="stable")]  # ...then by frequency
        remap = np.full(len(words), -1 if unk is None else 0, dtype=np.int32)
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        if unk is not None:
            remap[~kept] = remap[unk]
        vocab = cls([words[i] for i in keep], counts[keep].tolist())
        vocab.lines = lines
        return vocab, remap[ids], lengths

    # -- text <-> ids ------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """`text`'s tokens as this vocabulary's text was cleaned: with its line breaks, where it kept them."""
        return tokenize(text, self.lines)

    def encode(self, text: str) -> Encoded:
        """Clean and encode text; unknown words never raise, they are reported."""
        return self.encode_tokens(self.tokenize(text))

    def encode_tokens(self, tokens: list[str]) -> Encoded:
        """encode() of a text already cleaned into tokens."""
        ids, unknown = [], []
        for w in tokens:
            i = self.stoi.get(w)
            if i is None:
                if w not in unknown:
                    unknown.append(w)
                i = self.unk_id
            if i is not None:
                ids.append(i)
        return Encoded(ids, tokens, unknown)

    def lookup(self, tokens) -> list[int]:
        """Each token's id, and -1 for a word not in the vocabulary (never <unk>'s id:
        for matching a text against the corpus, where an unknown word matches nothing)."""
        return [self.stoi.get(w, -1) for w in tokens]

    def coverage(self, other: "Vocab") -> float:
        """The share of this vocabulary's text (its tokens, by count, line breaks aside) whose words `other` knows:
        how much of a text a model of `other`'s vocabulary has already read words of."""
        counts = [(w, c) for w, c in zip(self.itos, self.counts) if w != NEWLINE]
        total = sum(c for _, c in counts)
        return sum(c for w, c in counts if w in other.stoi) / total if total else 0.0

    def encode_prompt(self, text: str) -> Encoded:
        """encode(), but a prompt with no known word is an error that names the words."""
        enc = self.encode(text)
        if not enc.tokens:
            raise UserError("the prompt is empty; type a few words to start from")
        known = [i for i in enc.ids if i != self.unk_id]
        if not known:
            shown = ", ".join(repr(w) for w in enc.unknown[:10]) + (" ..." if len(enc.unknown) > 10 else "")
            raise UserError(f"none of the prompt's words is in the model's vocabulary ({shown}); "
                            f"try words from the training text, e.g. {', '.join(self._examples())}")
        return enc

    def unknown_note(self, unknown: list[str]) -> str | None:
        """A line for the user about a text's `unknown` words (Encoded.unknown), or None."""
        if not unknown:
            return None
        fate = "read as <unk>" if self.unk_id is not None else "skipped"
        return f"not in the model's vocabulary, {fate}: {', '.join(unknown)}"

    def _examples(self, n: int = 5):
        return [w for w in self.itos if w.isalpha()][:n] or self.itos[:n]

    # -- JSON ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"tokenizer": "book", "unk": UNK if self.unk_id is not None else None,
                **({"lines": True} if self.lines else {}), "itos": self.itos, "counts": self.counts,
                **({"forms": self.forms} if self.forms is not None else {}),
                **({"surface": self.surface.to_dict()} if self.surface is not None else {})}

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict) or not isinstance(d.get("itos"), list) or not d["itos"]:
            raise UserError("the vocabulary file has no word list ('itos'); the checkpoint is corrupt")
        forms = d.get("forms")
        vocab = cls(d["itos"], d.get("counts"), forms if isinstance(forms, dict) else None)
        vocab.surface = Surface.from_dict(d["surface"]) if "surface" in d else None  # saved from 0.19.0 on
        if d.get("lines", False) not in (True, False):
            raise UserError("the vocabulary file's 'lines' is not true or false; the checkpoint is corrupt")
        vocab.lines = d.get("lines", False)  # absent: the book's tokens
        return vocab

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def _chunks(text: str, lines: bool = False):
    """Cut text at whitespace into pieces of about _CHUNK_CHARS (tokens never span whitespace); with `lines`,
    never inside a \r\n, which reads as one break."""
    start, n, cut = 0, len(text), _NOT_CR if lines else _SPACE
    while start < n:
        space = cut.search(text, min(start + _CHUNK_CHARS, n))
        end = space.end() if space else n
        yield text[start:end]
        start = end
