"""From texts to training batches: the corpus, the train/validation split, windows.

The whole token stream is one int32 tensor. A window is just a start offset
into it: (x, y) = (ids[s : s+T], ids[s+1 : s+T+1]), gathered for a whole batch
at once. The book builds one pair of tensors per window instead, which costs
seconds and a gigabyte on a novel.

A corpus of several files is one stream of their documents, one after the other; `documents`
(their token counts) keeps each window within one document and gives each its own validation tail.
"""
import collections
import hashlib
import os
import random
import re
from dataclasses import dataclass, field

import torch

from ..errors import UserError, count
from .lines import Lines, choose_lines
from .surface import Surface
from .texts import read_texts, sources_of
from .tokenizer import written_forms
from .vocab import Vocab

WORD_BYTES = 250  # a vocabulary word's str, its places in itos and counts, its stoi and forms entries
SURFACE_SAMPLE = 1_000_000  # characters the surface and the line breaks' choice are read from, at most: about 3 s


@dataclass
class Corpus:
    vocab: Vocab
    ids: torch.Tensor  # (N,) int32, the whole text
    sha256: str
    name: str = "corpus"
    min_count: int = 1  # the vocabulary options it was built with
    max_vocab: int | None = None
    sentence_openings: list[str] = field(default_factory=list)  # frequent ones, as written: example prompts
    files: list[tuple[str, int]] = field(default_factory=list)  # (file name, tokens) of each document, in order
    sources: tuple[str, ...] = ()  # the paths it was read from: files, folders, zips
    lines: Lines = Lines(False, "")  # whether its line breaks are tokens (lines.py), and why

    @property
    def documents(self) -> tuple[int, ...]:
        """The token counts of its documents, for TrainConfig.documents: () for a text of one file."""
        return tuple(n for _, n in self.files) if len(self.files) > 1 else ()

    def info(self) -> dict:
        """What a checkpoint records about its training text."""
        files = {"files": [{"name": f, "tokens": n} for f, n in self.files]} if self.documents else {}
        return {"name": self.name, "sha256": self.sha256, "tokens": len(self.ids), "vocab_size": len(self.vocab),
                "min_count": self.min_count, "max_vocab": self.max_vocab, "lines": self.lines.keep, **files}

    @property
    def nbytes(self) -> int:
        """About the memory it keeps: the ids, and each word's entries in the vocabulary's lists and maps."""
        return self.ids.nbytes + sum(WORD_BYTES + len(w) for w in self.vocab.itos)

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
        files = f" ({count(len(self.files), 'file')})" if self.documents else ""
        md = (f"**{os.path.basename(self.name)}**{files}: {count(len(self.ids), 'token')}, "
              f"{count(len(self.vocab), 'distinct word')}; ")
        try:
            train_ids, val_ids = split(self.ids, seq_len, documents=self.documents)
            train_lengths, val_lengths = split_lengths(self.documents, seq_len)
        except UserError as e:
            return md + f"**cannot train yet:** {e}."
        md += (f"{len(Windows(train_ids, seq_len, lengths=train_lengths)):,} training and "
               f"{len(Windows(val_ids, seq_len, lengths=val_lengths)):,} "
               f"validation windows of {seq_len} tokens.")
        if self.lines.keep:  # prose, the default, goes unsaid
            md += f" {self.lines.why[:1].upper()}{self.lines.why[1:]}."
        return md + self.describe_files(seq_len)

    def describe_files(self, seq_len: int, shown: int = 50) -> str:
        """Each file's tokens and share of the whole (a Markdown table), for a corpus of several; else ""."""
        if not self.documents:
            return ""
        _, val = split_lengths(self.documents, seq_len)
        held = ["not used: shorter than a window" if n <= seq_len else f"{v:,} tokens" if v else "none: too short"
                for (_, n), v in zip(self.files, val)]
        rows = [f"| {name} | {n:,} | {n / len(self.ids):.1%} | {h} |" for (name, n), h in zip(self.files[:shown], held)]
        more = f"\n\n... and {len(self.files) - shown} more files." if len(self.files) > shown else ""
        return ("\n\n| file | tokens | share | held out |\n| --- | ---: | ---: | --- |\n" + "\n".join(rows) + more)

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


def load_corpus(sources, min_count: int = 1, max_vocab: int | None = None, name: str | None = None,
                written: bool = True, parent: str | None = None, lines: str = "auto") -> Corpus:
    """The corpus of a .txt file, or of several, a folder of them or a .zip of them (texts.read_texts;
    a zip is unpacked under `parent`), each file a document; `lines`: whether line breaks are tokens
    (lines.ASK)."""
    paths = sources_of(sources)
    corpus = corpus_from_texts(read_texts(paths, parent=parent), min_count, max_vocab, written=written, lines=lines,
                               name=name or (paths[0] if len(paths) == 1 else f"{os.path.basename(paths[0])} and "
                                             f"{len(paths) - 1} more"))
    corpus.sources = tuple(paths)
    return corpus


def corpus_from_text(text: str, min_count: int = 1, max_vocab: int | None = None, name: str = "corpus",
                     written: bool = True, lines: str = "auto") -> Corpus:
    """The corpus of `text`. written: also read how the text writes its words (Vocab.forms) and its
    sentence openings, for text and prompts that read as it does; the model needs neither. lines: whether
    its line breaks are tokens: "yes", "no", or "auto" (lines.choose_lines)."""
    return corpus_from_texts([(os.path.basename(name), text)], min_count, max_vocab, name, written, lines)


def corpus_from_texts(texts: list[tuple[str, str]], min_count: int = 1, max_vocab: int | None = None,
                      name: str = "corpus", written: bool = True, lines: str = "auto") -> Corpus:
    """The corpus of the documents `texts`, (file name, text) each: one vocabulary, one stream."""
    joined = "\n\n".join(t for _, t in texts) if len(texts) > 1 else texts[0][1]
    sample = surface_sample(joined)  # what the text's habits are read from
    kept = choose_lines(sample, lines)
    vocab, ids, lengths = Vocab.build_documents([t for _, t in texts], min_count=min_count, max_vocab=max_vocab,
                                                lines=kept.keep)
    if len(texts) == 1:  # the text's own hash, as before documents
        sha = hashlib.sha256(texts[0][1].encode("utf-8")).hexdigest()
    else:
        h = hashlib.sha256()
        for file, text in texts:
            h.update(f"{file}\0{text}\0".encode("utf-8"))
        sha = h.hexdigest()
    openings = []
    if written:
        vocab.forms = {w: f for w, f in written_forms(joined).items() if w in vocab.stoi}
        vocab.surface = Surface.learn(sample, vocab.forms, kept.keep)
        openings = sentence_openings(joined)
    return Corpus(vocab, torch.from_numpy(ids), sha, name, min_count, max_vocab, openings,
                  files=[(file, n) for (file, _), n in zip(texts, lengths)], lines=kept)


def surface_sample(text: str) -> str:
    """What the surface is learned from and lines.choose_lines reads: the text, or its first SURFACE_SAMPLE
    characters (its lines whole), so that a large text costs a few seconds, not minutes (a text's habits show
    in its first megabyte)."""
    return text if len(text) <= SURFACE_SAMPLE else text[: text.rfind("\n", 0, SURFACE_SAMPLE) + 1 or SURFACE_SAMPLE]


def split_lengths(documents, seq_len: int, val_fraction: float = 0.1) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Each document's (training, validation) token counts, for a stream of several (one: ((), ())).

    Each document gives its tail to validation, so that a model is judged on every document, not the last
    one's author: the share `val_fraction`, but never less than one window (seq_len + 1 tokens), and only
    where the rest still holds one. A document too short for both trains whole; one too short for a
    window is not used."""
    if len(documents) <= 1:
        return (), ()
    train, val = [], []
    for n in documents:
        window = seq_len + 1
        cut = min(max(int(n * (1 - val_fraction)), window), n - window) if n >= 2 * window else n
        train.append(cut)
        val.append(n - cut)
    if not any(val):
        raise UserError(f"none of the {len(documents)} files has the {2 * (seq_len + 1)} tokens it takes to hold "
                        f"out a validation window of its own after a training one; give longer files, join "
                        f"them into one, or lower seq_len")
    return tuple(train), tuple(val)


def split(ids: torch.Tensor, seq_len: int, val_fraction: float = 0.1, documents=()):
    """(training ids, validation ids): a contiguous tail for validation, so no window ever crosses the cut;
    for a stream of several `documents` (their token counts), each one's tail (split_lengths), the
    training parts one after the other, and the validation ones."""
    if not 0 < val_fraction < 1:
        raise UserError(f"val_fraction must be between 0 and 1 (got {val_fraction})")
    if len(documents) > 1:
        if sum(documents) != len(ids):
            raise UserError(f"the documents hold {sum(documents):,} tokens, but the text {len(ids):,}; "
                            "give the documents of this text")
        train, val = split_lengths(documents, seq_len, val_fraction)
        parts = torch.split(ids, [n for pair in zip(train, val) for n in pair])
        return torch.cat(parts[0::2]), torch.cat(parts[1::2])
    n = len(ids)
    if n < seq_len + 2:
        raise UserError(f"the corpus has {count(n, 'token')}, too few for one window of seq_len={seq_len} "
                        f"(it needs at least {seq_len + 2}); give more text or lower seq_len")
    cut = min(int(n * (1 - val_fraction)), n - 2)  # the baseline's cut; >= 1 (x, y) pair to validate on
    if cut >= seq_len + 1:
        return ids[:cut], ids[cut:]
    # Too short for both: they share the boundary token, the last training target
    # and the first validation input. Still no validation target is trained on.
    return ids[: seq_len + 1], ids[seq_len:]


class Windows:
    """All windows of `seq_len` tokens starting every `stride` tokens, as index arithmetic; with the
    `lengths` of the documents `ids` holds one after the other, every `stride` tokens within each."""

    def __init__(self, ids: torch.Tensor, seq_len: int, stride: int | None = None, lengths=()):
        self.ids, self.seq_len, self.stride = ids, seq_len, stride or seq_len
        if self.seq_len < 1 or self.stride < 1:
            raise UserError(f"seq_len and stride must be at least 1 (got {seq_len}, {stride})")
        self.n = max(0, (len(ids) - seq_len - 1) // self.stride + 1)
        self._starts = None  # one document: window i starts at i * stride
        if len(lengths) > 1:
            ends = torch.tensor(lengths).cumsum(0).tolist()
            self._starts = torch.cat([torch.arange(end - n, end - seq_len, self.stride) for n, end in zip(lengths, ends)
                                      if n > seq_len] or [torch.zeros(0, dtype=torch.long)])
            self.n = len(self._starts)
        self._offsets = torch.arange(seq_len + 1)

    def __len__(self):
        return self.n

    def get(self, index: torch.Tensor):
        """(x, y) for a batch of window indices: both (B, T), y is x shifted by one token."""
        starts = index * self.stride if self._starts is None else self._starts[index]
        xy = self.ids[starts[:, None] + self._offsets].long()  # (B, T+1)
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
