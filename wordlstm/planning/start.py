"""Where a training starts: a new model, or another model's weights (a warm start); and auto's rule for it.

A small text is bound by data, not compute: what helps it most is what a model already knows. Auto starts
from the default model (the bundled one, trained on a novel) where that was measured to help: a text of
fewer than WARM_BELOW tokens whose words the default model mostly knows (MIN_COVERAGE of its tokens). A
text in another language, or of another kind, starts new. The figures are in docs/recipe.md#warm-start.
"""
import functools
import os
from dataclasses import dataclass

from ..share.checkpoint import Checkpoint, load_checkpoint
from ..share.warmstart import conflict
from ..text.data import Corpus
from ..text.tokenizer import NEWLINE
from .defaults import AUTO

NEW, NEW_MODEL = "new", "a new model"
# The gain falls with the text's size (0.66 of a new model's perplexity at 20K tokens, 0.92 at 261K) and held on
# every English text measured, WikiText's 74% known included; a text sharing only its punctuation (25%) lost
# 5%. No larger text was measured but the novel the default model read: those start new (#warm-start).
WARM_BELOW = 300_000  # tokens
MIN_COVERAGE = 0.7  # of the text's tokens, whose words the default model knows
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a clone's root


@functools.cache
def default_model() -> Checkpoint | None:
    """The default model, read once: WORDLSTM_DEFAULT_MODEL's folder ("" for none), else a clone's
    models/anna; None where there is none (an installed package carries no weights)."""
    folder = os.environ.get("WORDLSTM_DEFAULT_MODEL", os.path.join(REPO, "models", "anna"))
    return load_checkpoint(folder) if folder and os.path.isdir(folder) else None


@dataclass(frozen=True)
class Start:
    """Where a training starts, as decided."""
    source: Checkpoint | None  # the model whose weights it starts from; None: a new model
    name: str  # for people and the records: NEW_MODEL, "the default model", "the Hub model alice/x", a folder
    why: str = ""  # auto's reason, for its one line; "" where the user chose
    advised: bool = False  # the user chose a new model where auto would have started from the default one


def choose_start(corpus: Corpus, asked: str, source: Checkpoint | None = None, default: Checkpoint | None = None,
                 shape: dict | None = None) -> Start:
    """Where a training of `corpus` starts. asked: "auto", "new", or the name of `source`, the model the user
    gave (always used). default: the model auto may start from. shape: the model settings the user asked for
    (by name, or through a named size); a shape other than the default model's starts new."""
    if asked not in (AUTO, NEW):
        return Start(source, asked)
    verdict = _auto(corpus, default, shape or {})
    if asked == NEW:
        return Start(None, NEW_MODEL, advised=verdict.source is not None)
    return verdict


def _auto(corpus: Corpus, default: Checkpoint | None, shape: dict) -> Start:
    if default is None:
        return Start(None, NEW_MODEL, "it starts new: there is no default model here")
    if conflict(default.model, shape):
        c = default.model.config
        return Start(None, NEW_MODEL, f"it starts new, in the shape asked for (the default model's is "
                                      f"{c.num_layers}x{c.hidden_size})")
    known = corpus.vocab.coverage(default.vocab)
    if known < MIN_COVERAGE:
        return Start(None, NEW_MODEL, f"it starts new: the default model knows only {known:.0%} of your text's words")
    vocab = corpus.vocab
    tokens = len(corpus.ids) - (vocab.counts[vocab.stoi[NEWLINE]] if NEWLINE in vocab.stoi else 0)  # as measured:
    if tokens >= WARM_BELOW:  # the book's tokens, line breaks aside
        return Start(None, NEW_MODEL, f"it starts new: your text is large enough to learn on its own "
                                      f"({tokens:,} tokens)")
    return Start(default, "the default model", f"it starts from the default model: it knows {known:.0%} of your "
                                               "text's words")
