"""wordlstm: train a word-level LSTM language model on your own text, the book's way, fast.

The pipeline, one module per stage:
    tokenizer -> vocab -> data (split, windows) -> model -> train -> sample, checkpoint
and what a model learned: score (surprise per word), originality (copies of the corpus);
and what a training will cost before it runs: cost (plan), limits (admission control)
"""
from . import defaults
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .cost import Plan, plan
from .data import Corpus, Windows, corpus_from_text, load_corpus, split
from .config import TrainConfig
from .defaults import SIZES
from .loop import evaluate
from .model import ModelConfig, WordLSTM
from .originality import NgramIndex, Originality, originality
from .sample import MAX_NEW_TOKENS, LiveSampler, generate, sample_next, stream
from .score import Score, score
from .errors import UserError
from .tokenizer import detokenize, tokenize
from .device import pick_device
from .events import Event, TrainResult
from .train import train
from .vocab import UNK, Vocab

__version__ = "0.9.0"
