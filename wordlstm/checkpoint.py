"""A checkpoint is a folder: model.safetensors + config.json + vocab.json.

config.json holds the model config (to rebuild the model), the training
settings, the final metrics, the corpus's sha256 and the library versions.
Nothing is ever unpickled. Writes go to a temporary folder that is renamed
into place, so a crash never leaves half a checkpoint behind.
"""
import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields

import safetensors
import safetensors.torch
import torch

from .model import ModelConfig, WordLSTM
from .tokenizer import UserError
from .vocab import Vocab

MODEL_FILE, CONFIG_FILE, VOCAB_FILE = "model.safetensors", "config.json", "vocab.json"
FORMAT = "wordlstm"


@dataclass
class Checkpoint:
    model: WordLSTM
    vocab: Vocab
    config: dict  # the whole config.json


def versions() -> dict:
    from . import __version__

    return {"wordlstm": __version__, "torch": torch.__version__, "safetensors": safetensors.__version__,
            "python": platform.python_version()}


def save_checkpoint(path, model: WordLSTM, vocab: Vocab, **info) -> str:
    """Write the folder atomically. `info` (train settings, metrics, corpus...) goes into config.json."""
    if len(vocab) != model.config.vocab_size:
        raise UserError(f"the vocabulary has {len(vocab)} words but the model {model.config.vocab_size}")
    path = check_writable(path)
    parent = os.path.dirname(path)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        config = {"format": FORMAT, "model": asdict(model.config), **info, "versions": versions()}
        safetensors.torch.save_model(model, os.path.join(tmp, MODEL_FILE))  # handles tied weights
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        vocab.save(os.path.join(tmp, VOCAB_FILE))
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), 0o644)  # readable like any file the user writes
            with open(os.path.join(tmp, name), "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if os.path.exists(path):  # swap: the old folder stays whole until the new one is in place
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"could not save the checkpoint to {path}: {e.strerror or e}") from None
    return path


def check_writable(path) -> str:
    """Raise UserError unless a checkpoint can be written at `path`; returns it absolute."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not _replaceable(path):
        raise UserError(f"{path} exists and is not a wordlstm checkpoint; choose another output folder")
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise UserError(f"cannot write to {parent} ({e.strerror}); choose a writable output folder") from None
    return path


def _replaceable(path: str) -> bool:
    if not os.path.isdir(path):
        return False
    if not os.listdir(path):
        return True
    try:
        with open(os.path.join(path, CONFIG_FILE), encoding="utf-8") as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_checkpoint(path, device="cpu") -> Checkpoint:
    """Rebuild the model from config.json and load its weights strictly."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such checkpoint folder; give a folder written by scripts/train.py")
    missing = [n for n in (MODEL_FILE, CONFIG_FILE, VOCAB_FILE) if not os.path.isfile(os.path.join(path, n))]
    if missing:
        raise UserError(f"{path} is not a complete checkpoint: {', '.join(missing)} missing")
    config = _read_json(path, CONFIG_FILE)
    try:
        known = {f.name for f in fields(ModelConfig)}
        model_config = ModelConfig(**{k: v for k, v in config["model"].items() if k in known})
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise UserError(f"{CONFIG_FILE} in {path} has no valid model config ({e}); the checkpoint is corrupt") from None
    try:
        vocab = Vocab.from_dict(_read_json(path, VOCAB_FILE))
    except (TypeError, ValueError) as e:
        raise UserError(f"{VOCAB_FILE} in {path} is not a valid vocabulary ({e})") from None
    if len(vocab) != model_config.vocab_size:
        raise UserError(f"{path}: the vocabulary has {len(vocab)} words but the model expects "
                        f"{model_config.vocab_size}; the files do not belong together")
    model = WordLSTM(model_config)
    try:
        safetensors.torch.load_model(model, os.path.join(path, MODEL_FILE), strict=True)
    except (safetensors.SafetensorError, OSError, RuntimeError, ValueError) as e:
        reason = str(e).splitlines()[0][:200]
        raise UserError(f"{MODEL_FILE} in {path} cannot be loaded ({reason}); "
                        f"it is truncated, corrupt, not safetensors, or of another shape") from None
    return Checkpoint(model.to(device).eval(), vocab, config)


def _read_json(path, name):
    try:
        with open(os.path.join(path, name), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{name} in {path} is not valid JSON ({e}); the checkpoint is corrupt") from None
    if not isinstance(data, dict):
        raise UserError(f"{name} in {path} is not a JSON object; the checkpoint is corrupt")
    return data
