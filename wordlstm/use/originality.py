"""Is a text the model's own, or copied from its training text word for word?

`NgramIndex` hashes every run of n token ids in the corpus into one sorted
int64 array (a polynomial hash, wrapping in uint64), with the run's position
beside it. A text's runs are then looked up with one binary search each, and
every hit is checked against the corpus itself, so a hash collision can never
report a copy that is not there. Built once per corpus and n: about 1 s and
90 MB for a 25 MB text (5.8M tokens); then 1,000 tokens are checked in under
a millisecond (README, "What the model learned").
"""
from dataclasses import dataclass

import numpy as np

from ..errors import UserError, count
from ..text.tokenizer import token_spans
from .defaults import MIN_WORDS

_BASE = np.uint64(1_000_003)  # odd, larger than any vocabulary: distinct short runs get distinct hashes


def _hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of n ids (len(ids) - n + 1 of them), vectorised over the runs."""
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    for k in range(n):  # n passes over the array: n is small (a handful of words)
        h = h * _BASE + (ids[k:len(ids) - n + 1 + k].astype(np.uint64) + np.uint64(1))
    return h


class NgramIndex:
    """Every run of `n` token ids of a corpus, for looking up runs of a text."""

    def __init__(self, corpus_ids, n: int = MIN_WORDS):
        if n < 1:
            raise UserError(f"min_words must be at least 1 (got {n})")
        self.ids = np.asarray(corpus_ids, dtype=np.int64)
        self.n = n
        if len(self.ids) < n:
            self.hashes, self.starts = np.zeros(0, np.uint64), np.zeros(0, np.int64)
            return
        h = _hashes(self.ids, n)
        self.starts = np.argsort(h, kind="stable")  # ties by position: the first occurrence comes first
        self.hashes = h[self.starts]

    def find(self, text_ids) -> np.ndarray:
        """For each run of n ids in the text, where it starts in the corpus (its
        first occurrence), or -1. Ids < 0 (words unknown to the corpus) never match."""
        text = np.asarray(text_ids, dtype=np.int64)
        if len(text) < self.n:
            return np.zeros(0, np.int64)
        h = _hashes(text, self.n)
        i = np.minimum(np.searchsorted(self.hashes, h), max(len(self.hashes) - 1, 0))
        found = np.full(len(h), -1, np.int64)
        if not len(self.hashes):
            return found
        hit = self.hashes[i] == h
        pos = self.starts[i[hit]]
        offsets = np.arange(self.n)
        same = (self.ids[pos[:, None] + offsets] == text[np.flatnonzero(hit)[:, None] + offsets]).all(axis=1)
        found[np.flatnonzero(hit)[same]] = pos[same]
        return found


@dataclass
class Originality:
    novel_fraction: float  # of the text's runs of min_words tokens, those found nowhere in the corpus
    copied_spans: list[tuple[int, int, int]]  # (start, end, corpus offset): text tokens [start, end) copied verbatim
    ngrams: int  # runs of min_words tokens in the text
    min_words: int

    def copied(self, length: int) -> list[bool]:
        """Per token of a text of `length` tokens: inside a copied span?"""
        flags = [False] * length
        for start, end, _ in self.copied_spans:
            flags[start:end] = [True] * (end - start)
        return flags

    def summary(self) -> str:
        if not self.ngrams:
            return f"too short to check: fewer than {self.min_words} words"
        copies = f"; {count(len(self.copied_spans), 'copied span')}" \
            if self.copied_spans else ", nothing copied"
        return f"{self.novel_fraction:.0%} of {self.min_words}-word sequences are new{copies}"

    def lines(self, text: str, breaks: bool = False) -> list[str]:
        """The report for people, a line each: the summary, then each copied span of `text` (the text checked,
        its line breaks tokens with `breaks`) as it is written there, on one line, and where the corpus has it."""
        spans = token_spans(text, breaks)
        return [f"originality: {self.summary()}"] + [
            f"  copied (corpus token {offset:,}): {' '.join(text[spans[start][0]:spans[end - 1][1]].split())}"
            for start, end, offset in self.copied_spans]

    def to_dict(self) -> dict:
        return {"novel_fraction": round(self.novel_fraction, 4), "ngrams": self.ngrams, "min_words": self.min_words,
                "copied_spans": [list(s) for s in self.copied_spans]}


def originality(corpus_ids, text_ids, min_words: int = MIN_WORDS, index: NgramIndex | None = None) -> Originality:
    """Which spans of at least `min_words` tokens of the text occur verbatim in the
    corpus, and what fraction of its runs of `min_words` tokens are new. Both are
    id sequences of the same vocabulary; pass `index` to reuse a built one."""
    if index is None or index.n != min_words:
        index = NgramIndex(corpus_ids, min_words)
    text = np.asarray(text_ids, dtype=np.int64)
    found = index.find(text)
    spans, i = [], 0
    while i < len(found):
        if found[i] < 0:
            i += 1
            continue
        start, pos, end = i, int(found[i]), i + min_words
        while end < len(text) and pos + end - start < len(index.ids) and text[end] == index.ids[pos + end - start]:
            end += 1  # the copy goes on beyond the first run
        spans.append((start, end, pos))
        i = end - min_words + 1  # the next run that reaches past this span
    novel = 1.0 - float((found >= 0).mean()) if len(found) else 1.0
    return Originality(novel, spans, len(found), min_words)


class Checker:
    """originality() against one corpus at a time, with its index built once and kept while the
    corpus and the run length stay the same: what a session of the app holds."""

    def __init__(self):
        self._key, self._index = None, None

    def __call__(self, corpus, text_ids, min_words: int = MIN_WORDS) -> Originality:
        key = (corpus.sha256, corpus.min_count, min_words)
        if self._key != key:
            self._key, self._index = key, NgramIndex(corpus.ids, min_words)
        return originality(corpus.ids, text_ids, min_words, index=self._index)
