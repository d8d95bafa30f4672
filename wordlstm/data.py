"""From a text to training batches: the corpus, the train/validation split, windows.

The whole token stream is one int32 tensor. A window is just a start offset
into it: (x, y) = (ids[s : s+T], ids[s+1 : s+T+1]), gathered for a whole batch
at once. The book builds one pair of tensors per window instead, which costs
seconds and a gigabyte on a novel.
"""
import codecs
import collections
import hashlib
import os
import random
import re
from dataclasses import dataclass, field

import torch

from .errors import UserError
from .tokenizer import written_forms
from .vocab import Vocab

MAX_CORPUS_BYTES = 200 * 1024 * 1024


@dataclass
class Corpus:
    vocab: Vocab
    ids: torch.Tensor  # (N,) int32, the whole text
    sha256: str
    name: str = "corpus"
    min_count: int = 1  # the vocabulary options it was built with
    max_vocab: int | None = None
    sentence_openings: list[str] = field(default_factory=list)  # frequent ones, as written: example prompts

    def info(self) -> dict:
        """What a checkpoint records about its training text."""
        return {"name": self.name, "sha256": self.sha256, "tokens": len(self.ids), "vocab_size": len(self.vocab),
                "min_count": self.min_count, "max_vocab": self.max_vocab}

    def vocab_size_at(self, min_count: int) -> int:
        """The size of this text's vocabulary if rebuilt with `min_count`: the words seen that
        often, and <unk> for the rest (exact from a corpus built with a lower min_count)."""
        if min_count == self.min_count:
            return len(self.vocab)
        unk = self.vocab.unk_id
        kept = sum(1 for i, c in enumerate(self.vocab.counts) if c >= min_count and i != unk)
        return kept + (kept < len(self.vocab) - (unk is not None) or unk is not None)

    def describe(self, seq_len: int) -> str:
        """Its size and windows, for people (Markdown); what stands in the way of training, if anything."""
        md = f"**{os.path.basename(self.name)}**: {len(self.ids):,} tokens, {len(self.vocab):,} distinct words; "
        try:
            train_ids, val_ids = split(self.ids, seq_len)
        except UserError as e:
            return md + f"**cannot train yet:** {e}."
        return md + (f"{len(Windows(train_ids, seq_len)):,} training and {len(Windows(val_ids, seq_len)):,} "
                     f"validation windows of {seq_len} tokens.")

    def stats(self, top: int = 20) -> dict:
        return {**self.info(), "top_words": list(zip(self.vocab.itos[:top], self.vocab.counts[:top]))}

    def openings(self, n: int = 4, seed: int = 0) -> list[str]:
        """Up to n example prompts as the text writes them: drawn with `seed` from its 3n most frequent
        sentence openings in running text (sentence_openings); its most frequent words where it has none."""
        if not self.sentence_openings:
            forms = self.vocab.forms or {}
            return [forms.get(w, w) for w in self.vocab.itos if w.isalpha()][:n]
        frequent = self.sentence_openings[: 3 * n]
        picked = random.Random(seed).sample(range(len(frequent)), min(n, len(frequent)))
        return [frequent[k] for k in sorted(picked)]


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def sentence_openings(text: str, words: int = 3, keep: int = 12) -> list[str]:
    """The `keep` most frequent openings (the first `words` words, as written) of sentences in running
    text, most frequent first. A line is running text when it has 8 words or more and starts with a
    letter or a quote: headings, bylines ("Steven Wright"), list items and short verse lines are not,
    so their words never start a prompt. A sentence starts after . ! ? or where a line starts after one."""
    found: collections.Counter = collections.Counter()
    ended = True  # the line before ended a sentence (or was not running text)
    for line in text.splitlines():
        line = line.strip()
        if len(line.split()) < 8 or not (line[:1].isalpha() or line[:1] in "\"'“‘"):
            ended = True
            continue
        parts = _SENTENCE_END.split(line)
        for part in parts if ended else parts[1:]:
            first = part.lstrip("\"'“‘(").split()[:words]
            first[-1:] = [w.rstrip(".!?\"'”’") for w in first[-1:]]  # a sentence of just that many words
            if len(first) == words and all(w.isalpha() for w in first) and first[0][0].isupper():
                found[" ".join(first)] += 1
        ended = line.rstrip("\"'”’)").endswith((".", "!", "?"))
    return [opening for opening, _ in found.most_common(keep)]


def read_text(path, max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """Read a UTF-8 text file (a BOM is allowed, CRLF is fine) or raise UserError."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file; give the path of a .txt file")
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder; give the path of a .txt file")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise UserError(f"{path} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    with open(path, "rb") as f:
        return decode_bytes(f.read(), name=path)


def decode_bytes(data: bytes, name: str = "the corpus") -> str:
    """UTF-8 (with or without BOM) only; anything else is a clear error, not mojibake."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserError(f"{name} is UTF-16; save it as UTF-8 and try again")
    if b"\x00" in data:
        raise UserError(f"{name} looks binary (it contains NUL bytes); give a plain text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{name} is not valid UTF-8 (byte {e.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise UserError(f"{name} is empty or only whitespace; give a text with some words")
    return text


def load_corpus(path, min_count: int = 1, max_vocab: int | None = None, name: str | None = None,
                written: bool = True) -> Corpus:
    return corpus_from_text(read_text(path), min_count, max_vocab, name=name or str(path), written=written)


def corpus_from_text(text: str, min_count: int = 1, max_vocab: int | None = None, name: str = "corpus",
                     written: bool = True) -> Corpus:
    """The corpus of `text`. written: also read how the text writes its words (Vocab.forms) and its
    sentence openings, for text and prompts that read as it does; the model needs neither."""
    vocab, ids = Vocab.build(text, min_count=min_count, max_vocab=max_vocab)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    openings = []
    if written:
        vocab.forms = {w: f for w, f in written_forms(text).items() if w in vocab.stoi}
        openings = sentence_openings(text)
    return Corpus(vocab, torch.from_numpy(ids), sha, name, min_count, max_vocab, openings)


def split(ids: torch.Tensor, seq_len: int, val_fraction: float = 0.1):
    """A contiguous tail for validation, so no window ever crosses the cut."""
    if not 0 < val_fraction < 1:
        raise UserError(f"val_fraction must be between 0 and 1 (got {val_fraction})")
    n = len(ids)
    if n < seq_len + 2:
        raise UserError(f"the corpus has {n} tokens, too few for one window of seq_len={seq_len} "
                        f"(it needs at least {seq_len + 2}); give more text or lower seq_len")
    cut = min(int(n * (1 - val_fraction)), n - 2)  # the baseline's cut; >= 1 (x, y) pair to validate on
    if cut >= seq_len + 1:
        return ids[:cut], ids[cut:]
    # Too short for both: they share the boundary token, the last training target
    # and the first validation input. Still no validation target is trained on.
    return ids[: seq_len + 1], ids[seq_len:]


class Windows:
    """All windows of `seq_len` tokens starting every `stride` tokens, as index arithmetic."""

    def __init__(self, ids: torch.Tensor, seq_len: int, stride: int | None = None):
        self.ids, self.seq_len, self.stride = ids, seq_len, stride or seq_len
        if self.seq_len < 1 or self.stride < 1:
            raise UserError(f"seq_len and stride must be at least 1 (got {seq_len}, {stride})")
        self.n = max(0, (len(ids) - seq_len - 1) // self.stride + 1)
        self._offsets = torch.arange(seq_len + 1)

    def __len__(self):
        return self.n

    def get(self, index: torch.Tensor):
        """(x, y) for a batch of window indices: both (B, T), y is x shifted by one token."""
        xy = self.ids[(index * self.stride)[:, None] + self._offsets].long()  # (B, T+1)
        return xy[:, :-1], xy[:, 1:]

    def batches(self, batch_size: int, contiguous: bool, generator: torch.Generator | None = None, start: int = 0,
                rank: int = 0, world: int = 1):
        """Yield (x, y) batches covering the windows once, from batch number `start`.

        contiguous=True lays the windows out as `batch_size` parallel streams, so
        row b of one batch continues row b of the previous batch: the LSTM state
        can be carried over (truncated BPTT). Otherwise the windows are shuffled
        (the order drawn from `generator` even when `start` skips some).
        With `world` > 1 processes, `batch_size` is the global batch and each
        rank gets its own rows of it (rank::world): the same global batches as
        one process, split, as data-parallel training needs.
        """
        if self.n == 0:
            return
        if contiguous:
            b = min(batch_size, self.n)
            grid = torch.arange(b * (self.n // b)).view(b, -1)[rank::world]  # (B / world, steps)
            for t in range(start, grid.shape[1]):
                yield self.get(grid[:, t])
        else:
            order = torch.randperm(self.n, generator=generator)
            end = self.n if world == 1 else self.n - self.n % batch_size  # ranks need equal, non-empty shares
            for i in range(start * batch_size, end, batch_size):
                yield self.get(order[i:i + batch_size][rank::world])

    def num_batches(self, batch_size: int, contiguous: bool, world: int = 1) -> int:
        if self.n == 0:
            return 0
        if contiguous:
            return self.n // min(batch_size, self.n)
        return -(-self.n // batch_size) if world == 1 else self.n // batch_size
