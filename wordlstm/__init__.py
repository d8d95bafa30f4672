"""wordlstm: train a word-level LSTM language model on your own text, the book's way, fast.

The package follows the pipeline, one folder per stage, each importing only the stages before it:

    text/      files and zips -> the book's tokenizer -> the vocabulary -> the corpus, its split and windows
    model/     the LSTM and its next-word distribution (+ the cache, the unseen words' share, ensembles)
    training/  one run (the loop), the schedule's runs, the events a run reports, the device
    use/       generation, next-word suggestions, scoring, the originality check
    share/     the checkpoint folder, its model card, its zip, the Hub, warm starts
    planning/  what a training will be, before it runs: sizes, auto's rule, cost, admission, the planner
    serve/     the app's server side: sessions, runs, uploads, the gradio plumbing, ZeroGPU

The names below load on first use, so that reading a corpus (`wordlstm.text`) never imports the
model card or the sampler.
"""
import importlib

__version__ = "0.20.0"

_PUBLIC = {  # name: the module that defines it
    "UserError": "errors",
    "Corpus": "text.data", "Windows": "text.data", "corpus_from_text": "text.data", "corpus_from_texts": "text.data",
    "load_corpus": "text.data", "split": "text.data", "detokenize": "text.tokenizer", "tokenize": "text.tokenizer",
    "UNK": "text.vocab", "Vocab": "text.vocab",
    "ModelConfig": "model.lstm", "WordLSTM": "model.lstm",
    "TrainConfig": "training.config", "pick_device": "training.device", "Event": "training.events",
    "TrainResult": "training.events", "evaluate": "training.loop", "Schedule": "training.schedule",
    "train": "training.trainer",
    "NgramIndex": "use.originality", "Originality": "use.originality", "originality": "use.originality",
    "MAX_NEW_TOKENS": "use.sample", "LiveSampler": "use.sample", "generate": "use.sample",
    "sample_next": "use.sample", "stream": "use.sample", "Score": "use.score", "score": "use.score",
    "Plan": "planning.cost", "plan": "planning.cost", "SIZES": "planning.defaults",
    "TrainingPlan": "planning.planner", "plan_training": "planning.planner",
    "Checkpoint": "share.checkpoint", "load_checkpoint": "share.checkpoint", "save_checkpoint": "share.checkpoint",
}
_MODULES = {"auto": "planning.auto", "defaults": "planning.defaults"}
__all__ = [*_MODULES, *_PUBLIC]


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once: the next lookup is a plain attribute
    return value


def __dir__():
    return sorted({*globals(), *__all__})
