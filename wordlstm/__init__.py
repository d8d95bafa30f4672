"""wordlstm: train a word-level LSTM language model on your own text, the book's way, fast.

The pipeline, one module per stage:
    texts -> tokenizer -> vocab -> data (documents, split, windows) -> model (+ cache, unseen)
    -> train (loop, branches; an ensemble of members) -> sample
and around it: checkpoint, card, hub, archive (sharing a model); score and originality (what a model
learned); cost and limits (what a training will cost, before it runs); defaults (the settings the
front ends share; auto, the default size). The app's Gradio plumbing is in web.py, the one module that imports gradio.
"""
from . import auto, defaults
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .cost import Plan, plan
from .data import Corpus, Windows, corpus_from_text, corpus_from_texts, load_corpus, split
from .defaults import SIZES
from .device import pick_device
from .errors import UserError
from .events import Event, TrainResult
from .loop import evaluate
from .model import ModelConfig, WordLSTM
from .originality import NgramIndex, Originality, originality
from .sample import MAX_NEW_TOKENS, LiveSampler, generate, sample_next, stream
from .score import Score, score
from .tokenizer import detokenize, tokenize
from .train import train
from .vocab import UNK, Vocab

__all__ = ["auto", "defaults", "Checkpoint", "load_checkpoint", "save_checkpoint", "TrainConfig", "Plan", "plan", "Corpus",
           "Windows", "corpus_from_text", "corpus_from_texts", "load_corpus", "split", "SIZES", "pick_device", "UserError", "Event",
           "TrainResult", "evaluate", "ModelConfig", "WordLSTM", "NgramIndex", "Originality", "originality",
           "MAX_NEW_TOKENS", "LiveSampler", "generate", "sample_next", "stream", "Score", "score", "detokenize",
           "tokenize", "train", "UNK", "Vocab"]
__version__ = "0.16.0"
