"""The training loop: one loop for the CLI, the app and the benchmark.

It knows nothing about who watches: it reports plain `Event`s to a callback
and asks `should_stop()` between steps, so a caller can stop it cleanly.
"""
import math
import os
import queue
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn as nn

from .data import Windows, split
from .model import ModelConfig, WordLSTM
from .tokenizer import UserError


@dataclass
class TrainConfig:
    seq_len: int = 100  # tokens per window, as in the book
    stride: int | None = None  # window step; None = seq_len (state carried across batches), 1 = the book
    batch_size: int = 32
    lr: float = 5e-3  # Adam; the book's 1e-4 barely moves in a minute (see README)
    epochs: int | None = 10  # None: until max_seconds
    max_seconds: float | None = None  # wall-clock budget, validation included
    val_fraction: float = 0.1  # the contiguous tail held out for validation
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "auto"  # auto = cuda > mps > cpu
    log_every: int = 10  # read the loss every this many steps (each read is a host sync on GPU)
    precision: str = "auto"  # "fp32", "bf16" (autocast), or "auto": bf16 where it is fast (see use_bf16)
    save_every: float = 60.0  # seconds between checkpoints, when the caller takes them (on_checkpoint)

    def __post_init__(self):
        for name in ("seq_len", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.stride is not None and self.stride < 1:
            raise UserError(f"stride must be at least 1 (got {self.stride})")
        if not self.lr > 0:
            raise UserError(f"lr must be positive (got {self.lr})")
        if self.epochs is not None and self.epochs < 1:
            raise UserError(f"epochs must be at least 1 (got {self.epochs})")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise UserError(f"max_seconds must be positive (got {self.max_seconds})")
        if self.epochs is None and self.max_seconds is None:
            raise UserError("give a number of epochs, a time budget in seconds, or both")
        if not 0 < self.val_fraction < 1:
            raise UserError(f"val_fraction must be between 0 and 1 (got {self.val_fraction})")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise UserError(f"precision must be auto, fp32 or bf16 (got {self.precision!r})")
        if not self.grad_clip > 0:
            raise UserError(f"grad_clip must be positive (got {self.grad_clip})")


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))  # capped: an untrained model's loss would overflow


@dataclass
class Event:
    """What the loop reports. kind: "start", "step", "epoch" (after validation) or "done"."""
    kind: str
    epoch: int  # 1-based
    step: int  # optimizer steps so far
    total_steps: int | None  # planned steps (None: bounded by time only)
    progress: float  # 0..1, by steps or by time, whichever is further along
    elapsed: float  # seconds
    eta: float | None  # seconds left
    tokens_per_s: float
    device: str
    train_loss: float | None = None
    val_loss: float | None = None

    @property
    def val_ppl(self) -> float | None:
        return None if self.val_loss is None else perplexity(self.val_loss)


@dataclass
class TrainResult:
    val_loss: float  # of the weights kept (the best seen)
    steps: int
    epochs: float  # fractional when stopped or out of time mid-epoch
    tokens: int
    seconds: float  # wall clock, validation included
    train_seconds: float  # in training steps only
    device: str
    stopped: bool  # stopped by the caller
    history: list = field(default_factory=list)  # the "epoch" and "done" events

    @property
    def val_ppl(self) -> float:
        return perplexity(self.val_loss)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict:
        """What a checkpoint records about the training run."""
        return {"val_loss": self.val_loss, "val_ppl": self.val_ppl, "steps": self.steps, "epochs": self.epochs,
                "tokens": self.tokens, "seconds": round(self.seconds, 1), "device": self.device,
                "stopped": self.stopped}


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available; use auto or cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS is not available; use auto or cpu")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """bf16 autocast where it pays: CUDA (tensor cores, no loss scaling needed)
    and CPUs with AMX (oneDNN runs the LSTM in bf16 there: ~1.35x the tokens/s
    of fp32 at the book's sizes). Elsewhere bf16 on a CPU is slower than fp32."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return device.type == "cpu" and bool(capabilities.get("amx_bf16"))


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


@torch.no_grad()
def evaluate(model: WordLSTM, ids: torch.Tensor, seq_len: int, batch_size: int = 64, bf16: bool = False) -> float:
    """Mean next-token cross-entropy over consecutive, non-overlapping windows of
    `seq_len` tokens, each fed from a zero state: the baseline's protocol."""
    was_training = model.training
    model.eval()
    device = model.embed.weight.device
    windows = Windows(ids, min(seq_len, len(ids) - 1))  # a tail shorter than a window: one short window
    total, count = 0.0, 0
    for x, y in windows.batches(batch_size, contiguous=False, generator=torch.Generator().manual_seed(0)):
        with autocast(device, bf16):
            out, _ = model.features(x.to(device))
            total += model.loss(out, y.to(device), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count


@dataclass
class TrainState:
    """Where a run is, to continue it exactly: what train() hands to `on_checkpoint`
    and takes back as `resume`. Tensors are on the CPU; the caller stores them."""
    model: dict  # the current weights
    optimizer: dict  # Adam's state_dict
    best: dict | None  # the best weights so far, by validation loss
    best_loss: float
    rng: torch.Tensor  # torch's CPU generator: dropout
    epoch_rng: torch.Tensor  # the shuffling generator as the current epoch began
    hidden: tuple | None  # the carried LSTM state (contiguous windows), or None
    epoch: int  # 1-based, the epoch in progress
    epoch_steps: int  # its batches done
    step: int
    tokens: int
    train_time: float

    def metrics(self) -> dict:
        """What a checkpoint of an unfinished run records (TrainResult.metrics() once done)."""
        return {"val_loss": self.best_loss, "val_ppl": perplexity(self.best_loss), "steps": self.step,
                "tokens": self.tokens, "in_progress": True}


def train(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, on_event=None, should_stop=None,
          on_checkpoint=None, resume: TrainState | None = None) -> tuple[WordLSTM, TrainResult]:
    """Train on the token stream `ids`; returns the model with the best weights loaded.

    on_checkpoint(TrainState), if given, is called every `cfg.save_every`
    seconds, after each epoch's validation, and at the end. `resume` continues
    from such a state: with the same data and settings, the weights come out
    exactly as in an uninterrupted run (on the same device and threads).

    Under torch.distributed (the caller initialises the process group, e.g.
    scripts/train.py under torchrun), this is DDP: `cfg.batch_size` is the
    global batch, each rank trains on its own rows of it, and only rank 0
    reports events and checkpoints.
    """
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world > 1 else 0
    if world > 1 and cfg.batch_size % world:
        raise UserError(f"batch_size {cfg.batch_size} must be a multiple of the {world} processes")
    if rank:
        on_event = on_checkpoint = None
    on_event = on_event or (lambda e: None)
    should_stop = should_stop or (lambda: False)
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":  # one GPU per process
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
    bf16 = use_bf16(device, cfg.precision)
    dev_name = device_name(device) + (", bf16" if bf16 else "")
    t0 = last_save = time.perf_counter()
    torch.manual_seed(cfg.seed)  # model init and dropout
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)

    train_ids, val_ids = split(ids, cfg.seq_len, cfg.val_fraction)
    windows = Windows(train_ids, cfg.seq_len, cfg.stride)
    # Hidden state: with non-overlapping windows laid out as parallel streams
    # (stride == seq_len), each batch row continues the text of the row before,
    # so we carry the state across batches (detached: truncated BPTT) and the
    # model sees context beyond one window. The book carries the state across
    # *shuffled* windows, where it is noise; with overlapping windows we shuffle
    # and start each batch from zeros instead.
    contiguous = windows.stride == cfg.seq_len
    steps_per_epoch = windows.num_batches(cfg.batch_size, contiguous, world)
    total_steps = steps_per_epoch * cfg.epochs if cfg.epochs else None

    model = WordLSTM(model_config)
    model.init_output_bias(torch.bincount(train_ids.long(), minlength=model_config.vocab_size)[: model_config.vocab_size])
    model = model.to(device)
    # The fused kernel updates all parameters in one pass: ~8% more tokens/s on the CPU.
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=device.type in ("cpu", "cuda"))
    model.train()
    loss_step = _LossStep(model)
    if world > 1:  # gradients averaged across ranks, bucketed and overlapped with backward
        loss_step = nn.parallel.DistributedDataParallel(
            loss_step, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=model.adaptive)  # a rank's batch may have no word of some cluster

    epoch, epoch_steps, step, tokens, train_time = 1, 0, 0, 0, 0.0
    best_loss, best_state, history, hidden = math.inf, None, [], None
    epoch_rng = shuffle_gen.get_state()
    if resume is not None:
        if cfg.epochs and resume.epoch > cfg.epochs:
            raise UserError(f"this run has already trained {resume.epoch - 1} epochs; ask for more than that "
                            f"(epochs {cfg.epochs}), or for a time budget")
        model.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        best_state, best_loss = resume.best, resume.best_loss
        torch.set_rng_state(resume.rng)
        epoch_rng = resume.epoch_rng
        hidden = None if resume.hidden is None else tuple(h.to(device) for h in resume.hidden)
        epoch, epoch_steps, step = resume.epoch, resume.epoch_steps, resume.step
        tokens, train_time = resume.tokens, resume.train_time
    stopped = out_of_time = False
    last_loss = None

    def event(kind, epoch, val_loss=None):
        elapsed = time.perf_counter() - t0
        frac_steps = step / total_steps if total_steps else 0.0
        frac_time = elapsed / cfg.max_seconds if cfg.max_seconds else 0.0
        progress = min(1.0, max(frac_steps, frac_time))
        eta = None
        if total_steps and step:
            eta = (total_steps - step) * train_time / step
        if cfg.max_seconds:
            left = max(0.0, cfg.max_seconds - elapsed)
            eta = left if eta is None else min(eta, left)
        e = Event(kind, epoch, step, total_steps, progress, elapsed, eta,
                  tokens / train_time if train_time else 0.0, dev_name, last_loss, val_loss)
        on_event(e)
        return e

    def validate():
        nonlocal best_loss, best_state
        # On the GPU in bf16, for speed; on the CPU in fp32, where it is cheap anyway.
        loss = evaluate(model, val_ids, cfg.seq_len, max(cfg.batch_size, 64), bf16 and device.type == "cuda")
        if loss < best_loss:  # keep a CPU copy of the best weights
            best_loss = loss
            best_state = _cpu(model.state_dict())
        return loss

    def stop_flags():
        flags = (should_stop(), bool(cfg.max_seconds and time.perf_counter() - t0 >= cfg.max_seconds))
        if world == 1:
            return flags
        if step % cfg.log_every:  # ranks must stop at the same step: they agree every log_every steps
            return False, False
        agreed = torch.tensor(flags, dtype=torch.float32, device=device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
        return bool(agreed[0]), bool(agreed[1])

    def checkpoint():
        nonlocal last_save
        if on_checkpoint is not None:
            on_checkpoint(TrainState(
                _cpu(model.state_dict()), _cpu(optimizer.state_dict()), best_state, best_loss, torch.get_rng_state(),
                epoch_rng, None if hidden is None else _cpu(hidden), epoch, epoch_steps, step, tokens, train_time))
        last_save = time.perf_counter()

    event("start", epoch)
    ended_epoch = epoch
    while not (stopped or out_of_time):
        shuffle_gen.set_state(epoch_rng)  # the epoch's order, drawn again when resuming mid-epoch
        tick = time.perf_counter()
        for x, y in windows.batches(cfg.batch_size, contiguous, shuffle_gen, start=epoch_steps, rank=rank, world=world):
            if device.type == "cuda":  # pinned pages let the copy run asynchronously
                x, y = x.pin_memory(), y.pin_memory()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, bf16):
                loss, hidden = loss_step(x, hidden, y)
            hidden = (hidden[0].detach(), hidden[1].detach()) if contiguous else None
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            epoch_steps += 1
            tokens += y.numel() * world
            if step == 1 or step % cfg.log_every == 0:
                last_loss = loss.item()
                now = time.perf_counter()
                train_time += now - tick
                tick = now
                event("step", epoch)
            stopped, out_of_time = stop_flags()
            if stopped or out_of_time:
                break
            if on_checkpoint is not None and time.perf_counter() - last_save >= cfg.save_every:
                train_time += time.perf_counter() - tick
                checkpoint()
                tick = time.perf_counter()
        train_time += time.perf_counter() - tick
        last_loss = loss.item() if epoch_steps else last_loss
        finished_epoch = epoch_steps == steps_per_epoch
        epochs_done = epoch - 1 + epoch_steps / steps_per_epoch
        history.append(event("epoch", epoch, validate()))
        ended_epoch, all_done = epoch, bool(cfg.epochs and epoch >= cfg.epochs and finished_epoch)
        if finished_epoch:  # the cursor moves to the next epoch before saving, so a resume starts there
            epoch, epoch_steps, hidden, epoch_rng = epoch + 1, 0, None, shuffle_gen.get_state()
        checkpoint()
        if all_done:
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    result = TrainResult(val_loss=best_loss, steps=step, tokens=tokens, epochs=epochs_done,
                         seconds=time.perf_counter() - t0, train_seconds=train_time, device=dev_name,
                         stopped=stopped, history=history)
    history.append(event("done", ended_epoch, best_loss))
    return model, result


class _LossStep(nn.Module):
    """The training step's forward pass as a module: DDP syncs gradients
    through a module's forward(), and ours returns the loss, not logits."""

    def __init__(self, model: WordLSTM):
        super().__init__()
        self.model = model

    def forward(self, x, hidden, y):
        out, hidden = self.model.features(x, hidden)
        return self.model.loss(out, y), hidden


def _cpu(tree):
    """A detached CPU copy of the tensors in a (nested) dict / list / tuple."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: _cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_cpu(v) for v in tree)
    return tree


class TrainingThread:
    """Runs train() in a background thread, for front ends that poll.

    The caller reads `poll()` for events, sets `stop` to end training cleanly,
    and finds `model` and `result` (or `error`) once `done`.
    """

    def __init__(self, ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig):
        self.stop = threading.Event()
        self.model = self.result = self.error = None
        self._events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(ids, model_config, cfg), daemon=True,
                                        name="wordlstm-training")
        self._thread.start()

    def _run(self, ids, model_config, cfg):
        try:
            self.model, self.result = self._train(ids, model_config, cfg)
        except Exception as e:  # handed to the caller, who owns the error reporting
            self.error = e
        finally:
            self._events.put(None)

    def _train(self, ids, model_config, cfg):
        """(model, result), with events put on the queue. Subclasses train elsewhere."""
        return train(ids, model_config, cfg, self._events.put, self.stop.is_set)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def poll(self, timeout: float) -> list[Event]:
        """The events so far; waits up to `timeout` for the first one."""
        events = []
        try:
            events.append(self._events.get(timeout=timeout))
            while True:
                events.append(self._events.get_nowait())
        except queue.Empty:
            pass
        return [e for e in events if e is not None]
