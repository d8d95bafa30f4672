"""Start a training from another model: its LSTM, and its rows of every word the two vocabularies share.

A small text learns little from scratch, and most of its words are in any
novel's vocabulary. The new text keeps its own vocabulary; `transfer()` copies
the source's LSTM weights, and, word by word, its embedding and output rows:
the full softmax's row and bias, or the adaptive softmax's head row (a frequent
word), its cluster's entry in the head, the cluster's projection, and the
word's row in its cluster, where the word falls in the same part of both
vocabularies. A word new to the source starts from the source's mean
embedding, with the new text's unigram output bias (as a new model does).
"""
from dataclasses import dataclass, replace

import torch

from ..errors import UserError
from ..model.ensemble import members
from ..model.lstm import ModelConfig, WordLSTM, default_cutoffs
from ..text.vocab import Vocab


@dataclass
class Transfer:
    state: dict  # the new model's weights to start from
    shared: int  # words of the new vocabulary that the source knew
    copied_output: int  # of them, the words whose output rows were copied too
    vocab_size: int
    coverage: float  # the share of the text's tokens whose words the source knew

    def describe(self, source: str) -> dict:
        """What the model card records: where the weights came from, and how much of them."""
        return {"source": source, "shared_words": self.shared, "copied_output_rows": self.copied_output,
                "vocab_size": self.vocab_size, "coverage": round(self.coverage, 4)}


SHAPE = ("embed_dim", "hidden_size", "num_layers", "tie_weights", "softmax")  # what a warm start takes from its source


def shaped_like(model_config: ModelConfig, source: WordLSTM, asked: dict | None = None) -> ModelConfig:
    """model_config with the source's shape (SHAPE), its other settings kept: what a warm start from
    `source` needs. `asked`: the settings a user gave by name; one that contradicts the source is a
    UserError naming both values."""
    s, clash = source.config, conflict(source, asked or {})
    if clash:
        raise UserError(f"{clash}; leave it out (a warm start takes its source's shape), or start from a new model")
    shape = {name: getattr(s, name) for name in SHAPE}
    full = (asked or {}).get("softmax") == "full" or not default_cutoffs(model_config.vocab_size)
    if s.softmax == "adaptive" and s.tie_weights and full:
        shape["softmax"] = "full"  # asked for, or too few words for clusters: tied, the embeddings are its output rows
    return replace(model_config, **shape, cutoffs=None)


def conflict(source: WordLSTM, asked: dict) -> str | None:
    """Where the settings `asked` for by name contradict `source`'s shape, which a warm start takes: which
    setting, for people; None where they do not."""
    s = source.config
    for name, value in asked.items():
        into_full = name == "softmax" and value == "full" and s.softmax == "adaptive" and s.tie_weights
        if name in SHAPE and value != getattr(s, name) and not (name == "softmax" and value == "auto" or into_full):
            return f"{name} {value} was asked for, but the model to start from has {name} {getattr(s, name)}"
    return None


def warm_start(source, model_config: ModelConfig, vocab: Vocab, asked: dict | None = None
               ) -> tuple[ModelConfig, "Transfer"]:
    """A training's start from checkpoint `source` on a text of vocabulary `vocab`: the model
    config in the source's shape, and the weights to start from. The app and the CLI both use it."""
    model_config = shaped_like(model_config, source.model, asked)
    return model_config, transfer(source.model, source.vocab, model_config, vocab, vocab.counts)


def transfer(source: WordLSTM, source_vocab: Vocab, model_config: ModelConfig, vocab: Vocab, counts) -> Transfer:
    """The weights a model of `model_config` over `vocab` (word counts `counts`) starts from,
    taken from `source` (an ensemble's first model); UserError if their shapes do not fit. Each model of
    an ensemble trained from it starts from these weights."""
    source = members(source)[0]
    src, m = source.config, replace(model_config, members=1)
    for name, flag in (("embed_dim", "--embed-dim"), ("hidden_size", "--hidden-size"), ("num_layers", "--num-layers")):
        if getattr(src, name) != getattr(m, name):
            raise UserError(f"cannot start from that model: its {name} is {getattr(src, name)}, this one's "
                            f"{getattr(m, name)}; train with {flag} {getattr(src, name)}, or start from a new model")
    into_full = src.softmax == "adaptive" and m.softmax == "full" and src.tie_weights and m.tie_weights
    if (src.softmax != m.softmax and not into_full) or src.tie_weights != m.tie_weights:
        raise UserError(f"cannot start from that model: its output layer is {src.softmax}"
                        f"{' (tied)' if src.tie_weights else ''}, this one's {m.softmax}{' (tied)' if m.tie_weights else ''}; "
                        f"train with --softmax {src.softmax} --{'' if src.tie_weights else 'no-'}tie-weights")
    model = WordLSTM(m)
    model.init_output_bias(torch.as_tensor(counts))
    in_source = torch.tensor(source_vocab.lookup(vocab.itos), dtype=torch.long)  # -1: a word it never saw
    new = (in_source >= 0).nonzero().squeeze(1)
    old = in_source[new]
    with torch.no_grad():
        model.lstm.load_state_dict(source.lstm.state_dict())
        if model.embed is not None:  # tied under the adaptive softmax, the output rows are the embeddings
            table = source.embedding_table()
            model.embed.weight.copy_(table.mean(0))
            model.embed.weight[new] = table[old]
        copied = _copy_output(model, source, new, old)
    return Transfer(model.state_dict(), len(new), copied, len(vocab), vocab.coverage(source_vocab))


def _copy_output(model: WordLSTM, source: WordLSTM, new: torch.Tensor, old: torch.Tensor) -> int:
    """Copy the output rows of the shared words; returns how many words got theirs.

    Tied under the adaptive softmax, a word's embedding is its output row, copied here where the
    word is in the same part (head or cluster) of both vocabularies; every other row of a part
    starts from the mean of its copied rows, as an untied model's new words start from the mean
    embedding. (Copying the words that changed part too, whole into the head or fitted through a
    cluster's projection, did worse: CHANGELOG.md#tried-and-not-kept.)"""
    if not model.adaptive:
        if source.adaptive:  # into a vocabulary too small for it: tied, the embeddings were the output rows
            return len(new)
        if not model.config.tie_weights:  # tied: the embedding's copy was this
            model.head.weight[new] = source.head.weight[old]
        model.head.bias[new] = source.head.bias[old]
        return len(new)
    ours, theirs = model.head, source.head
    bounds_new, bounds_old = [0, *ours.cutoffs], [0, *theirs.cutoffs]
    part_new = torch.bucketize(new, torch.tensor(ours.cutoffs[:-1]), right=True)  # 0: the head, k: cluster k
    part_old = torch.bucketize(old, torch.tensor(theirs.cutoffs[:-1]), right=True)
    same = part_new == part_old
    head = same & (part_new == 0)
    ours.head.weight[new[head]] = theirs.head.weight[old[head]]
    ours.head.bias[new[head]] = theirs.head.bias[old[head]]
    tied = model.config.tie_weights
    if tied:
        _mean_for_the_rest(ours.head.weight[: ours.shortlist_size], new[head])  # a view: written in place
    copied = int(head.sum())
    for k, (tail, their_tail) in enumerate(zip(ours.tail, theirs.tail), start=1):
        if tail[0].weight.shape != their_tail[0].weight.shape:
            continue
        tail[0].weight.copy_(their_tail[0].weight)  # the cluster's projection
        ours.head.weight[ours.shortlist_size + k - 1] = theirs.head.weight[theirs.shortlist_size + k - 1]
        rows = same & (part_new == k)
        tail[1].weight[new[rows] - bounds_new[k]] = their_tail[1].weight[old[rows] - bounds_old[k]]
        if tied:
            _mean_for_the_rest(tail[1].weight, new[rows] - bounds_new[k])
        copied += int(rows.sum())
    return copied


def _mean_for_the_rest(weight: torch.Tensor, copied: torch.Tensor):
    """Set the rows of `weight` not in `copied` to the mean of those that are (if any are)."""
    if len(copied):
        rest = torch.ones(len(weight), dtype=torch.bool)
        rest[copied] = False
        weight[rest] = weight[copied].mean(0)
