"""wordlstm: train a word-level LSTM language model on your own text, the book's way, fast.

The pipeline, one module per stage:
    tokenizer -> vocab -> data (split, windows) -> model -> train -> sample, checkpoint
and what a model learned: score (surprise per word), originality (copies of the corpus);
and what a training will cost before it runs: cost (plan), limits (admission control)
"""
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .cost import Plan, plan
from .data import Corpus, Windows, corpus_from_text, load_corpus, split
from .model import SIZES, ModelConfig, WordLSTM
from .originality import NgramIndex, Originality, originality
from .sample import MAX_NEW_TOKENS, LiveSampler, generate, sample_next, stream
from .score import Score, score
from .errors import UserError
from .tokenizer import detokenize, tokenize
from .train import Event, TrainConfig, TrainResult, evaluate, pick_device, train
from .vocab import UNK, Vocab

__version__ = "0.9.0"
