"""A checkpoint is a folder: model.safetensors + config.json + vocab.json + README.md.

config.json holds the model config (to rebuild the model), the training
settings, the final metrics, the corpus's sha256 and the library versions;
README.md is the model card. The folder is the same on disk and on the Hub.
Nothing is ever unpickled. Writes go to a temporary folder that is renamed
into place, so a crash never leaves half a checkpoint behind.
"""
import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, fields, is_dataclass

import safetensors
import safetensors.torch
import torch
from huggingface_hub import HfApi, ModelHubMixin, snapshot_download

from ..errors import UserError
from ..model.ensemble import build
from ..model.lstm import ModelConfig, WordLSTM
from ..text.vocab import Vocab
from ..training.events import Position, TrainState
from .card import LIBRARY, TAGS, build_card

MODEL_FILE, CONFIG_FILE, VOCAB_FILE, CARD_FILE = "model.safetensors", "config.json", "vocab.json", "README.md"
REQUIRED = (MODEL_FILE, CONFIG_FILE, VOCAB_FILE)  # what loading needs; the card is optional
# Where an unfinished run stands (train.TrainState), for --resume: tensors and JSON, like the rest.
RESUME_TENSORS, RESUME_JSON = "resume.safetensors", "resume.json"
RESUME_FORMAT = "wordlstm-run/2"  # resume.json files before it listed their fields by hand
CORPUS_FILE = "corpus.txt"  # only when the user opts in to sharing the text
FORMAT = "wordlstm"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class Checkpoint(ModelHubMixin, library_name=LIBRARY, tags=TAGS):
    """A trained model, its vocabulary and its config.json (a dict).

    save_pretrained / from_pretrained / push_to_hub have huggingface_hub's
    ModelHubMixin shape and plumbing (repo creation, upload, download cache);
    the folder format and its checks are the ones below.
    """

    def __init__(self, model: WordLSTM, vocab: Vocab, config: dict | None = None):
        self.model, self.vocab, self.config = model, vocab, dict(config or {})

    def describe(self) -> str:
        """What it was trained on, for people (Markdown)."""
        ppl = self.config.get("metrics", {}).get("val_ppl")
        corpus = os.path.basename(self.config.get("corpus", {}).get("name", "?"))
        return f"trained on `{corpus}` ({len(self.vocab):,} words{f', validation perplexity {ppl:.0f}' if ppl else ''})"

    def trained_on(self, corpus) -> bool:
        """Whether `corpus` (a data.Corpus, or None) is the text this model was trained on, by sha256."""
        return corpus is not None and corpus.sha256 == (self.config.get("corpus") or {}).get("sha256")

    def save_pretrained(self, save_directory, *, model_card_kwargs: dict | None = None, **_push_kwargs) -> str:
        """Write the folder. model_card_kwargs: repo_id (for the card's usage
        snippet) and corpus_path (a text file to include as corpus.txt, opt-in)."""
        info = {k: v for k, v in self.config.items() if k not in ("format", "model", "versions")}
        return save_checkpoint(save_directory, self.model, self.vocab, **(model_card_kwargs or {}), **info)

    @classmethod
    def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token,
                         device="cpu", **_config_fields):
        # The mixin hands config.json's fields over as keyword arguments;
        # load_checkpoint reads and checks config.json itself.
        if os.path.isdir(model_id):
            return load_checkpoint(model_id, device)
        return load_checkpoint(cls.download(model_id, revision=revision, cache_dir=cache_dir, token=token,
                                            force_download=force_download, local_files_only=local_files_only), device)

    @staticmethod
    def download(repo_id: str, revision=None, cache_dir=None, force_download=False, local_files_only=False,
                 token=None) -> str:
        """The repo's checkpoint files, through the Hub cache (fetched once); returns their folder.
        Only our files are fetched; a repo without them, or with a pickle instead, is refused."""
        path = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
                                 token=token, local_files_only=local_files_only,
                                 allow_patterns=[*REQUIRED, CARD_FILE])
        missing = _missing(path)
        if missing:
            files = HfApi().list_repo_files(repo_id, revision=revision, token=token)
            pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
            if pickles and MODEL_FILE in missing:
                raise UserError(f"{repo_id} holds {pickles[0]}, a pickle checkpoint; wordlstm never loads pickles "
                                f"(loading one can run code). Ask its owner for a wordlstm model.safetensors")
            raise UserError(f"{repo_id} is not a wordlstm model: {', '.join(missing)} missing "
                            f"(it has {', '.join(files) or 'no files'})")
        return path


def versions() -> dict:
    from .. import __version__

    return {"wordlstm": __version__, "torch": torch.__version__, "safetensors": safetensors.__version__,
            "python": platform.python_version()}


def save_checkpoint(path, model: WordLSTM, vocab: Vocab, *, repo_id: str | None = None,
                    corpus_path: str | None = None, resume: TrainState | None = None, corpus_ids=None,
                    **info) -> str:
    """Write the folder atomically. `info` (train settings, metrics, corpus...) goes into
    config.json; the model card names `repo_id`; `corpus_path` is copied in as corpus.txt;
    `resume` (a run in progress) goes into resume.safetensors + resume.json; with the
    training text's `corpus_ids`, the card says how much of each sample is new."""
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
        if corpus_path:
            shutil.copyfile(corpus_path, os.path.join(tmp, CORPUS_FILE))
        if resume is not None:
            _save_train_state(tmp, resume)
        card = build_card(model, vocab, config, repo_id=repo_id, corpus_included=bool(corpus_path),
                          corpus_ids=corpus_ids)
        card.save(os.path.join(tmp, CARD_FILE))
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
        raise UserError(f"could not save the checkpoint to {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already if the swap happened
    return path


def recover(path) -> str:
    """If a crash fell between the two renames of a save's swap, `path` is
    missing and the previous checkpoint waits beside it as `.NAME.old-*`: put it back."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        parent, base = os.path.split(path)
        olds = [os.path.join(parent, n) for n in os.listdir(parent or ".") if n.startswith(f".{base}.old-")] \
            if os.path.isdir(parent) else []
        olds = [d for d in olds if _replaceable(d) and os.listdir(d)]
        if olds:
            os.replace(max(olds, key=os.path.getmtime), path)
    return path


def check_writable(path) -> str:
    """Raise UserError unless a checkpoint can be written at `path`; returns it absolute."""
    path = recover(path)
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
    if path:
        recover(path)
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such checkpoint folder; give a folder written by `wordlstm train` (or "
                        f"unzipped from the app), or a Hub repo id OWNER/NAME")
    missing = _missing(path)
    if missing:
        raise UserError(f"{path} is not a complete checkpoint: {', '.join(missing)} missing")
    config = _read_json(path, CONFIG_FILE)
    model_config = recorded_model_config(config, path)
    try:
        vocab = Vocab.from_dict(_read_json(path, VOCAB_FILE))
    except (TypeError, ValueError) as e:
        raise UserError(f"{VOCAB_FILE} in {path} is not a valid vocabulary ({e})") from None
    if len(vocab) != model_config.vocab_size:
        raise UserError(f"{path}: the vocabulary has {len(vocab)} words but the model expects "
                        f"{model_config.vocab_size}; the files do not belong together")
    model = build(model_config)
    try:
        safetensors.torch.load_model(model, os.path.join(path, MODEL_FILE), strict=True)
    except (safetensors.SafetensorError, OSError, RuntimeError, ValueError) as e:
        reason = str(e).splitlines()[0][:200]
        raise UserError(f"{MODEL_FILE} in {path} cannot be loaded ({reason}); "
                        f"it is truncated, corrupt, not safetensors, or of another shape") from None
    return Checkpoint(model.to(device).eval(), vocab, config)


def recorded_model_config(config: dict, path) -> ModelConfig:
    """The ModelConfig in a checkpoint's config.json (`config`, read from folder `path`)."""
    try:
        # Checkpoints from before the adaptive softmax have no "softmax" field: full. Those from before
        # the cache have no cache_lambda: off, so that they give the numbers their cards report; the same for
        # the unseen words' share.
        return ModelConfig.from_dict({"softmax": "full", "cache_lambda": 0.0, "unseen_share": 0.0, **config["model"]})
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise UserError(f"{CONFIG_FILE} in {path} has no valid model config ({e}); the checkpoint is corrupt") from None


def _missing(folder) -> list[str]:
    return [n for n in REQUIRED if not os.path.isfile(os.path.join(folder, n))]


def _save_train_state(folder: str, state: TrainState):
    tensors: dict = {}
    tree = _to_json(state, "", tensors)
    safetensors.torch.save_file(tensors, os.path.join(folder, RESUME_TENSORS))
    with open(os.path.join(folder, RESUME_JSON), "w", encoding="utf-8") as f:
        json.dump({"format": RESUME_FORMAT, "state": tree}, f, indent=1)


def _to_json(obj, key: str, tensors: dict):
    """`obj` as JSON, every tensor in it moved to `tensors` under its "/"-joined path.
    A few markers keep what JSON would lose: tensors, tuples, non-string keys."""
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.contiguous()
        return {"$tensor": key}
    if is_dataclass(obj):
        obj = {f.name: getattr(obj, f.name) for f in fields(obj)}
    if isinstance(obj, dict):
        items = [[k, _to_json(v, f"{key}/{k}".lstrip("/"), tensors)] for k, v in obj.items()]
        return dict(items) if all(isinstance(k, str) for k in obj) else {"$items": items}
    if isinstance(obj, (list, tuple)):
        items = [_to_json(v, f"{key}/{i}".lstrip("/"), tensors) for i, v in enumerate(obj)]
        return {"$tuple": items} if isinstance(obj, tuple) else items
    return obj


def _from_json(tree, tensors: dict):
    if isinstance(tree, list):
        return [_from_json(v, tensors) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "$tensor" in tree:
        return tensors[tree["$tensor"]]
    if "$tuple" in tree:
        return tuple(_from_json(v, tensors) for v in tree["$tuple"])
    if "$items" in tree:  # keys JSON would turn into strings: Adam's states are keyed by parameter number
        return {k: _from_json(v, tensors) for k, v in tree["$items"]}
    return {k: _from_json(v, tensors) for k, v in tree.items()}


def load_train_state(path) -> TrainState:
    """The run in progress saved in a checkpoint folder, to continue it (train(resume=...))."""
    path = os.fspath(path)
    if not all(os.path.isfile(os.path.join(path, n)) for n in (RESUME_TENSORS, RESUME_JSON)):
        raise UserError(f"{path} holds no run to resume (a training saves one as it goes, but a model that is "
                        f"the mean of branches, or several models, has none); go on from its weights with "
                        f"--init-from {path} instead")
    saved = _read_json(path, RESUME_JSON)
    if saved.get("format") != RESUME_FORMAT:
        raise UserError(f"the saved run in {path} was written by an older wordlstm and cannot be resumed; "
                        f"train anew (its model still loads for generation)")
    try:
        state = _from_json(saved["state"], safetensors.torch.load_file(os.path.join(path, RESUME_TENSORS)))
        return TrainState(**{**state, "position": Position(**state["position"])})
    except (safetensors.SafetensorError, OSError, KeyError, ValueError, TypeError) as e:
        raise UserError(f"the saved run in {path} is damaged ({e}); train anew instead") from None


def read_config(path) -> dict:
    """A checkpoint folder's config.json (settings, metrics, corpus), without loading the model."""
    return _read_json(os.fspath(path), CONFIG_FILE)


def _read_json(path, name):
    try:
        with open(os.path.join(path, name), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{name} in {path} is not valid JSON ({e}); the checkpoint is corrupt") from None
    if not isinstance(data, dict):
        raise UserError(f"{name} in {path} is not a JSON object; the checkpoint is corrupt")
    return data
