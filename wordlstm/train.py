"""The training loop: one loop for the CLI, the app and the benchmark.

It knows nothing about who watches: it reports plain `Event`s to a callback
and asks `should_stop()` between steps, so a caller can stop it cleanly.
Where a run stands is one object, `Position`; a checkpoint of a run in
progress (`TrainState`) is that position plus the weights, Adam and the RNG.
"""
import math
import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace

import torch
import torch.distributed as dist
import torch.nn as nn

from . import unseen
from .config import Config
from .data import Windows, split
from .errors import UserError
from .model import ModelConfig, WordLSTM


@dataclass
class TrainConfig(Config):
    seq_len: int = 100  # tokens per window, as in the book
    stride: int | None = None  # window step; None = seq_len, 1 = the book
    # The order of the windows: a new shuffle every epoch, each window from a zero state (as validation
    # reads them); or, for non-overlapping windows, False: parallel streams through the text with the state
    # carried across batches (truncated BPTT). Shuffled learns more from a small text, where the streams'
    # one fixed order, epoch after epoch, is learnt by heart (see the README's ablation).
    shuffle: bool = True
    batch_size: int = 32  # windows per step, as in the book (the global batch under DDP)
    lr: float = 1e-2  # Adam's peak rate; the book's 1e-4 barely moves in a minute (see README)
    epochs: int | None = 10  # None: until max_seconds
    max_seconds: float | None = None  # wall-clock budget, validation included
    val_fraction: float = 0.1  # the contiguous tail held out for validation
    grad_clip: float = 5.0  # max gradient norm, as in the book
    seed: int = 0  # model init, dropout and window order
    device: str = "auto"  # auto = cuda > mps > cpu
    log_every: int = 10  # read the loss every this many steps (each read is a host sync on GPU)
    precision: str = "auto"  # "fp32", "bf16" (autocast), or "auto": bf16 where it is fast (see use_bf16)
    save_every: float = 60.0  # seconds between checkpoints, when the caller takes them (on_checkpoint)
    # The learning rate over the run: "linear" warms up over the first `warmup` of the run, then
    # falls linearly to zero at its end (by time under max_seconds, else by steps): what works best
    # under a fixed budget (Li, Yumer and Ramanan, "Budgeted Training", 2020). "constant": lr throughout.
    schedule: str = "linear"
    warmup: float = 0.02  # the share of the run spent warming up
    weight_decay: float = 0.0  # AdamW's decoupled weight decay; 0: plain Adam
    # After this many validations in a row without a new best, more of the same only overfits. Under the
    # linear schedule training then goes back to the best weights and the rate falls from where it is to
    # zero over as many steps again as there have been since the best (a run that overfits early still
    # ends annealed), then it stops; under the constant one it stops at once. Either frees a shared
    # machine early. None: never.
    patience: int | None = 5
    # Validation by the clock: every `val_every` seconds of training as well as at each epoch's end, so
    # that the best weights are kept even within an epoch (on a small text the best can come mid-epoch 2).
    # None: a twentieth of max_seconds (at epoch ends only without a budget); 0: at epoch ends only.
    val_every: float | None = None
    # The most of the time between validations that a validation may take. Where the whole held-out tail
    # costs more, each reads the same seeded sample of its windows, and the kept weights get the whole
    # tail once, at the end.
    val_share: float = 0.1
    # After the first run, this many more from its best weights, each with its own seed (seed + i), the same
    # settings and an equal share of max_seconds (with epochs, each trains that many); the model is the mean
    # of their weights (a model soup: Wortsman et al., 2022). Where one run peaks after a few epochs (a
    # small text), this turns more time into a better model; see the README. 0: one run.
    branches: int = 0

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
        if self.schedule not in ("linear", "constant"):
            raise UserError(f"schedule must be linear or constant (got {self.schedule!r})")
        if not 0 <= self.warmup < 1:
            raise UserError(f"warmup must be in [0, 1) (got {self.warmup})")
        if self.patience is not None and self.patience < 1:
            raise UserError(f"patience must be at least 1, or none (got {self.patience})")
        if not self.weight_decay >= 0:
            raise UserError(f"weight_decay must be 0 or more (got {self.weight_decay})")
        if self.val_every is not None and not self.val_every >= 0:
            raise UserError(f"val_every must be 0 (epoch ends only) or more seconds (got {self.val_every})")
        if not 0 < self.val_share <= 1:
            raise UserError(f"val_share must be in (0, 1] (got {self.val_share})")
        if self.branches < 0:
            raise UserError(f"branches must be 0 (one run) or more (got {self.branches})")

    @property
    def run_seconds(self) -> float | None:
        """Each run's share of max_seconds: all of it, or with branches a (branches + 1)-th."""
        return self.max_seconds and self.max_seconds / (self.branches + 1)


def val_batch_size(cfg: TrainConfig) -> int:
    """Windows per validation batch: the training batch, or more, up to 6,400 tokens
    (64 windows of 100), so that validation never needs much more memory than a step."""
    return max(cfg.batch_size, 6400 // cfg.seq_len)


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))  # capped: an untrained model's loss would overflow


@dataclass
class Position:
    """Where a run stands: everything besides the weights, Adam and the RNG that a
    resume restores. A new resumable field is one line here: checkpoints store
    every field (tensors in safetensors, the rest in JSON) without naming it."""
    epoch: int = 1  # 1-based, the epoch in progress
    epoch_steps: int = 0  # its batches done
    step: int = 0  # optimizer steps so far
    tokens: int = 0  # tokens trained on, all ranks together
    train_time: float = 0.0  # seconds in training steps (validation and saving excluded)
    best_loss: float = math.inf  # the best validation loss so far
    best: dict | None = None  # a CPU copy of the weights that reached it
    since_best: int = 0  # validations since the best one
    best_step: int = 0  # the step of the best one
    anneal: tuple | None = None  # (first step, last step, lr multiplier then) once patience ran out; see TrainConfig
    val_windows: int | None = None  # the held-out windows each validation reads, fixed at the first
    next_val: float = 0.0  # the training time (train_time) at which the clock asks for the next validation
    epoch_rng: torch.Tensor | None = None  # the shuffling generator as the epoch in progress began
    hidden: tuple | None = None  # the carried LSTM state (contiguous windows), or None

    @property
    def annealed(self) -> bool:
        """The anneal that patience started has reached its last step."""
        return self.anneal is not None and self.step >= self.anneal[1]

    def metrics(self) -> dict:
        """What a checkpoint of an unfinished run records (TrainResult.metrics() once done)."""
        return {"val_loss": self.best_loss, "val_ppl": perplexity(self.best_loss), "steps": self.step,
                "tokens": self.tokens, "in_progress": True}


@dataclass
class TrainState:
    """A run in progress, to continue it exactly: what train() hands to
    `on_checkpoint` and takes back as `resume`. Tensors are on the CPU."""
    position: Position
    model: dict  # the current weights
    optimizer: dict  # Adam's state_dict
    rng: torch.Tensor  # torch's CPU generator: dropout

    def metrics(self) -> dict:
        return self.position.metrics()


@dataclass
class Event:
    """What the loop reports. kind: "start", "step", "val" (after a validation: at an epoch's
    end, and every `val_every` seconds) or "done"."""
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
    sample: str | None = None  # with "val": a short text from the current weights (train's `sampler`)
    branch: int | None = 0  # with TrainConfig.branches: 0 the first run, i its i-th branch, None their mean

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
    stopped_early: bool = False  # no new best in `patience` validations in a row: more would only overfit
    annealed: bool = False  # ... after which the rate fell to zero (the linear schedule), then it stopped
    sample_seconds: float = 0.0  # spent writing the live samples (train's `sampler`)
    val_coverage: float = 1.0  # the share of the validation windows the last validation read (< 1: out of time)
    branches: int = 0  # the branches whose mean the model is (TrainConfig.branches; fewer if stopped)

    @property
    def val_ppl(self) -> float:
        return perplexity(self.val_loss)

    def early_note(self, patience: int | None) -> str:
        """How the run ended early, for people ("" if it did not)."""
        if not self.stopped_early:
            return ""
        annealed = ", then annealed the rate to zero" if self.annealed else ""
        return f"stopped early at {self.seconds:.0f} s: no gain in {patience} validations in a row{annealed}"

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict:
        """What a checkpoint records about the training run."""
        return {"val_loss": self.val_loss, "val_ppl": self.val_ppl, "steps": self.steps, "epochs": self.epochs,
                "tokens": self.tokens, "seconds": round(self.seconds, 1), "device": self.device,
                "stopped": self.stopped, "stopped_early": self.stopped_early, "annealed": self.annealed,
                "val_coverage": round(self.val_coverage, 4), **({"branches": self.branches} if self.branches else {})}


def progress(pos: Position, cfg: TrainConfig, total_steps: int | None, elapsed: float) -> tuple[float, float | None]:
    """How far a run is (0..1), by steps or by time, whichever is further along,
    and the seconds left (None while unknown)."""
    frac_steps = pos.step / total_steps if total_steps else 0.0
    frac_time = elapsed / cfg.max_seconds if cfg.max_seconds else 0.0
    eta = (total_steps - pos.step) * pos.train_time / pos.step if total_steps and pos.step else None
    if cfg.max_seconds:
        left = max(0.0, cfg.max_seconds - elapsed)
        eta = left if eta is None else min(eta, left)
    return min(1.0, max(frac_steps, frac_time)), eta


def lr_factor(cfg: TrainConfig, done: float, anneal: tuple | None = None, step: int = 0) -> float:
    """The learning rate's multiplier when the share `done` (0..1) of the run is done.
    anneal: (first step, last step, multiplier then), once patience ran out (Position.anneal)."""
    if cfg.schedule == "constant":
        return 1.0
    if done < cfg.warmup:
        return (done + 1e-3) / cfg.warmup  # never exactly zero: the first step still moves
    factor = max(0.0, 1.0 - done) / (1.0 - cfg.warmup)
    if anneal is not None:  # from where it was, down to zero at the anneal's last step
        first, last, then = anneal
        factor = min(factor, then * max(0.0, last - step) / (last - first))
    return factor


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
def evaluate(model: WordLSTM, ids: torch.Tensor, seq_len: int, batch_size: int = 64, bf16: bool = False,
             max_windows: int | None = None) -> float:
    """Mean next-token cross-entropy over consecutive, non-overlapping windows of
    `seq_len` tokens, each fed from a zero state: the baseline's protocol.
    max_windows: only that many of them, a seeded sample (the same every time)."""
    was_training = model.training
    model.eval()
    device = model.device
    windows = Windows(ids, min(seq_len, len(ids) - 1))  # a tail shorter than a window: one short window
    total, count, read = 0.0, 0, 0
    for x, y in windows.batches(batch_size, contiguous=False, generator=torch.Generator().manual_seed(0)):
        if max_windows is not None:
            x, y = x[: max_windows - read], y[: max_windows - read]
            if not len(x):
                break
        with autocast(device, bf16):
            out, _ = model.features(x.to(device))
            total += model.text_nll(out, y.to(device)).sum().item()  # each window its own text, cache included
        count, read = count + y.numel(), read + len(x)
    model.train(was_training)
    return total / count


def train(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, on_event=None, should_stop=None,
          on_checkpoint=None, resume: TrainState | None = None, sampler=None,
          init: dict | None = None) -> tuple[WordLSTM, TrainResult]:
    """Train on the token stream `ids`; returns the model with the best weights loaded.

    sampler(model) -> str, if given (e.g. sample.LiveSampler), writes a short
    text after each validation, which the "val" event carries.

    init, if given, is a state dict the new model starts from (warmstart.transfer).

    on_checkpoint(TrainState), if given, is called every `cfg.save_every`
    seconds, after each epoch's validation, and at the end. `resume` continues
    from such a state: with the same data and settings, the weights come out
    exactly as in an uninterrupted run (on the same device and threads).

    Under torch.distributed (the caller initialises the process group, e.g.
    scripts/train.py under torchrun), this is DDP: `cfg.batch_size` is the
    global batch, each rank trains on its own rows of it, and only rank 0
    reports events and checkpoints.

    With cfg.branches, the runs report as one (progress, steps and time carry
    on; each event says its branch), and the result is their soup's; such a run
    saves no checkpoints on the way and cannot be resumed.
    """
    if cfg.branches:
        return _branched(ids, model_config, cfg, on_event, should_stop, resume, sampler, init)
    return _run(ids, model_config, cfg, on_event, should_stop, on_checkpoint, resume, sampler, init)


def _run(ids, model_config, cfg, on_event, should_stop, on_checkpoint, resume, sampler, init):
    rank, world = world_info()
    if world > 1 and cfg.batch_size % world:
        raise UserError(f"batch_size {cfg.batch_size} must be a multiple of the {world} processes")
    if rank:
        on_event = on_checkpoint = sampler = None
    should_stop = should_stop or (lambda: False)
    device = _device(cfg, rank, world)
    bf16 = use_bf16(device, cfg.precision)
    report = _Reporter(on_event, cfg, device_name(device) + (", bf16" if bf16 else ""))
    torch.manual_seed(cfg.seed)  # model init and dropout
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)

    train_ids, val_ids = split(ids, cfg.seq_len, cfg.val_fraction)
    windows, contiguous = _windows(train_ids, cfg, world)
    steps_per_epoch = windows.num_batches(cfg.batch_size, contiguous, world)
    val = _Validation(val_ids, cfg, bf16 and device.type == "cuda")
    report.total_steps = steps_per_epoch * cfg.epochs if cfg.epochs else None
    model, optimizer, loss_step = _build(model_config, cfg, train_ids, device, world)
    pos = Position(epoch_rng=shuffle_gen.get_state(), next_val=val.every)  # the first, once the speed is known
    if init is not None and resume is None:
        model.load_state_dict(init)
    if resume is not None:
        pos = _restore(resume, model, optimizer, cfg, device)

    report("start", pos)
    loss = last_loss = None
    last_save, stopped, out_of_time, sample_seconds = time.perf_counter(), False, False, 0.0
    while True:
        shuffle_gen.set_state(pos.epoch_rng)  # the epoch's order, drawn again when resuming mid-epoch
        tick = time.perf_counter()
        for x, y in windows.batches(cfg.batch_size, contiguous, shuffle_gen, start=pos.epoch_steps, rank=rank,
                                    world=world):
            x, y = _to(device, x), _to(device, y)
            if cfg.schedule != "constant":
                done = progress(pos, cfg, report.total_steps, report.elapsed())[0]
                lr = cfg.lr * lr_factor(cfg, done, pos.anneal, pos.step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            with autocast(device, bf16):
                loss, hidden = loss_step(x, pos.hidden, y)
            pos.hidden = (hidden[0].detach(), hidden[1].detach()) if contiguous else None
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            pos.step, pos.epoch_steps, pos.tokens = pos.step + 1, pos.epoch_steps + 1, pos.tokens + y.numel() * world
            # The loss and the clock are read only at log steps: on a GPU each read waits for it to finish.
            if pos.step == 1 or pos.step % cfg.log_every == 0:
                last_loss, tick = loss.item(), _count_time(pos, tick)
                report("step", pos, last_loss)
            stopped, out_of_time, due = _stop_flags(should_stop, cfg, report.elapsed() + val.reserve(pos), pos,
                                                    world, device, val.due(pos))
            if stopped or out_of_time or due or pos.annealed:
                break
            if on_checkpoint is not None and time.perf_counter() - last_save >= cfg.save_every:
                _count_time(pos, tick)
                last_save = tick = _checkpoint(on_checkpoint, model, optimizer, pos)
        _count_time(pos, tick)
        last_loss = loss.item() if pos.epoch_steps and loss is not None else last_loss
        finished_epoch = pos.epoch_steps == steps_per_epoch
        epochs_done = pos.epoch - 1 + pos.epoch_steps / steps_per_epoch
        val_loss, val_read = val(model, pos, cfg.max_seconds and cfg.max_seconds - report.elapsed())
        if val_loss < pos.best_loss:
            pos.best_loss, pos.best, pos.since_best, pos.best_step = val_loss, _cpu(model.state_dict()), 0, pos.step
        else:
            pos.since_best += 1
        early = bool(cfg.patience and pos.since_best >= cfg.patience)
        if early and cfg.schedule == "linear" and pos.anneal is None and pos.step > pos.best_step:
            # The steps since the best only overfit: anneal from the best weights, not from the last.
            done = progress(pos, cfg, report.total_steps, report.elapsed())[0]
            pos.anneal = (pos.step, 2 * pos.step - pos.best_step, lr_factor(cfg, done, None, pos.step))
            pos.since_best, early = 0, False
            model.load_state_dict(pos.best)
        early = early or pos.annealed
        sample, took = _timed(sampler, model) if sampler is not None else (None, 0.0)
        sample_seconds += took  # kept out of the training time: it is not training
        report("val", pos, last_loss, val_loss, sample)
        ended_epoch, all_done = pos.epoch, bool(cfg.epochs and pos.epoch >= cfg.epochs and finished_epoch)
        if finished_epoch:  # the cursor moves to the next epoch before saving, so a resume starts there
            pos.epoch, pos.epoch_steps, pos.hidden, pos.epoch_rng = pos.epoch + 1, 0, None, shuffle_gen.get_state()
        ends = all_done or stopped or out_of_time or early
        if finished_epoch or ends:  # a validation within an epoch leaves saving to the clock (save_every)
            last_save = _checkpoint(on_checkpoint, model, optimizer, pos)
        if ends:
            break

    if pos.best is not None:
        model.load_state_dict(pos.best)
    best_loss = pos.best_loss
    if pos.val_windows < val.total:  # the validations read a sample: the kept weights get the whole tail
        best_loss, val_read = val(model, pos, cfg.max_seconds and cfg.max_seconds - report.elapsed(), whole=True)
    result = TrainResult(val_loss=best_loss, steps=pos.step, tokens=pos.tokens, epochs=epochs_done,
                         seconds=report.elapsed(), train_seconds=pos.train_time, device=report.device,
                         stopped=stopped, stopped_early=early and not (all_done or stopped or out_of_time),
                         annealed=pos.anneal is not None,
                         sample_seconds=sample_seconds, val_coverage=val_read / val.total)
    report("done", replace(pos, epoch=ended_epoch), last_loss, best_loss)
    return model, result


def _branched(ids, model_config, cfg, on_event, should_stop, resume, sampler, init):
    """The first run, cfg.branches more from its best weights, and the mean of the branches' weights.

    The branches start in one basin, so their mean is a model of its own (measured, README: it beats each
    branch, which beats the first run, and it does better without the first run). The mean's validation on
    the whole tail comes after the budget, which the runs share."""
    if resume is not None:
        raise UserError("a run with branches cannot be resumed: train it again, or with branches 0")
    relay = _Relay(None if world_info()[0] else on_event, cfg.branches + 1)  # only rank 0 reports, as in _run
    each = replace(cfg, branches=0, max_seconds=cfg.run_seconds)
    first, soup, results = None, None, []  # the first run's best weights; the sum of the branches'
    for branch in range(cfg.branches + 1):
        model, result = _run(ids, model_config, replace(each, seed=cfg.seed + branch), relay, should_stop, None,
                             None, sampler, first if branch else init)
        relay.carry(result)
        results.append(result)
        weights = model.state_dict()
        if not branch:
            first = {k: w.detach().clone() for k, w in weights.items()}
        elif soup is None:  # a sum in float32, not a list: two copies of the weights, whatever the branches
            soup = {k: w.detach().float().clone() for k, w in weights.items()}
        else:
            for k, w in weights.items():
                soup[k].add_(w.float())
        if result.stopped:
            break
    branches = len(results) - 1
    if soup is not None:
        model.load_state_dict({k: (w / branches).to(first[k].dtype) for k, w in soup.items()})
    _, val_ids = split(ids, cfg.seq_len, cfg.val_fraction)
    val_loss = evaluate(model, val_ids, cfg.seq_len) if branches else results[0].val_loss
    last = results[-1]
    totals = {f: sum(getattr(r, f) for r in results)
              for f in ("steps", "epochs", "tokens", "seconds", "train_seconds", "sample_seconds")}
    result = replace(last, val_loss=val_loss, **totals, stopped_early=False, annealed=False,
                     val_coverage=1.0 if branches else last.val_coverage, branches=branches)
    relay.finish(result)
    return model, result


class _Relay:
    """The runs' events as one run's: progress, time and steps carry on from the runs before; one "start",
    and one "done" after a last "val", the soup's."""

    def __init__(self, on_event, runs: int):
        self.on_event, self.runs, self.branch = on_event, runs, 0
        self.steps, self.seconds, self.last = 0, 0.0, None

    def __call__(self, e: Event):
        if self.on_event is None or e.kind == "done" or (e.kind == "start" and self.branch):
            return
        left = (self.runs - self.branch - 1) * (e.elapsed + e.eta) if e.eta is not None else 0.0
        self.last = replace(e, step=self.steps + e.step, total_steps=e.total_steps and e.total_steps * self.runs,
                            progress=(self.branch + e.progress) / self.runs, elapsed=self.seconds + e.elapsed,
                            eta=e.eta and e.eta + left, branch=self.branch)
        self.on_event(self.last)

    def carry(self, result: "TrainResult"):
        """A run has ended: the next one's events carry on from it."""
        self.steps, self.seconds = self.steps + result.steps, self.seconds + result.seconds
        self.branch += 1

    def finish(self, result: "TrainResult"):
        if self.on_event is None or self.last is None:
            return
        end = replace(self.last, progress=self.last.progress if result.stopped else 1.0, eta=0.0,
                      val_loss=result.val_loss, sample=None, branch=None if result.branches else 0)
        if result.branches:
            self.on_event(replace(end, kind="val"))
        self.on_event(replace(end, kind="done"))


def world_info() -> tuple[int, int]:
    """(this process's rank, the number of processes) under torch.distributed; (0, 1) without it."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _Reporter:
    """Turns the run's position into Events for `on_event`; owns the wall clock."""

    def __init__(self, on_event, cfg: TrainConfig, device: str):
        self.on_event, self.cfg, self.device = on_event, cfg, device
        self.total_steps = None  # known once the data is split
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, kind: str, pos: Position, train_loss: float | None = None, val_loss: float | None = None,
                 sample: str | None = None):
        if self.on_event is None:
            return
        elapsed = self.elapsed()
        done, eta = progress(pos, self.cfg, self.total_steps, elapsed)
        self.on_event(Event(kind, pos.epoch, pos.step, self.total_steps, done, elapsed, eta,
                            pos.tokens / pos.train_time if pos.train_time else 0.0, self.device, train_loss, val_loss,
                            sample))


def _device(cfg: TrainConfig, rank: int, world: int) -> torch.device:
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":  # one GPU per process
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
    return device


def _windows(train_ids: torch.Tensor, cfg: TrainConfig, world: int) -> tuple[Windows, bool]:
    """The training windows, and whether they are contiguous streams.

    Hidden state: with non-overlapping windows laid out as parallel streams
    (stride == seq_len, shuffle off), each batch row continues the text of the
    row before, so we carry the state across batches (detached: truncated BPTT)
    and the model sees context beyond one window. The book carries the state
    across *shuffled* windows, where it is noise; shuffled windows here start
    each batch from zeros instead.
    """
    windows = Windows(train_ids, cfg.seq_len, cfg.stride)
    if world > 1 and len(windows) < cfg.batch_size:  # some ranks would get no rows at all
        raise UserError(f"the training text has {len(windows)} windows, fewer than the batch of {cfg.batch_size} "
                        f"shared by {world} processes; give more text, or lower batch_size or seq_len")
    return windows, windows.stride == cfg.seq_len and not cfg.shuffle


def _build(model_config: ModelConfig, cfg: TrainConfig, train_ids: torch.Tensor, device: torch.device, world: int):
    """The model (on `device`, in train mode), its optimizer, and the module whose forward is the loss."""
    counts = _word_counts(train_ids, model_config.vocab_size)
    model = WordLSTM(unseen.resolve(model_config, counts))
    model.init_output_bias(counts)
    model = model.to(device)
    # The fused kernel updates all parameters in one pass: ~8% more tokens/s on the CPU.
    adam = torch.optim.AdamW if cfg.weight_decay else torch.optim.Adam  # decoupled decay; none: plain Adam
    optimizer = adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type in ("cpu", "cuda"))
    model.train()
    loss_step = _LossStep(model)
    if world > 1:  # gradients averaged across ranks, bucketed and overlapped with backward
        loss_step = nn.parallel.DistributedDataParallel(
            loss_step, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=model.adaptive)  # a rank's batch may have no word of some cluster
    return model, optimizer, loss_step


def _word_counts(train_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    return torch.bincount(train_ids.long(), minlength=vocab_size)[:vocab_size]


def trained_config(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig) -> ModelConfig:
    """The config of the model that train(ids, model_config, cfg) returns: the unseen words of its training
    text counted in, with their share (unseen.py). For a caller that rebuilds that model from its weights."""
    train_ids, _ = split(ids, cfg.seq_len, cfg.val_fraction)
    return unseen.resolve(model_config, _word_counts(train_ids, model_config.vocab_size))


def _restore(resume: TrainState, model: WordLSTM, optimizer, cfg: TrainConfig, device: torch.device) -> Position:
    """Load a saved run into the model, the optimizer and torch's RNG; returns its position."""
    pos = resume.position
    if cfg.epochs and pos.epoch > cfg.epochs:
        raise UserError(f"this run has already trained {pos.epoch - 1} epochs; ask for more than that "
                        f"(epochs {cfg.epochs}), or for a time budget")
    model.load_state_dict(resume.model)
    optimizer.load_state_dict(resume.optimizer)
    torch.set_rng_state(resume.rng)
    hidden = None if pos.hidden is None else tuple(h.to(device) for h in pos.hidden)
    return replace(pos, hidden=hidden)


def _to(device: torch.device, batch: torch.Tensor) -> torch.Tensor:
    if device.type == "cuda":  # pinned pages let the copy run asynchronously
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True)


class _Validation:
    """The held-out tail, and how much of it each validation reads.

    All validations of a run read the same windows, so that their losses compare: the
    whole tail, or, where that would take more than `val_share` of the time between
    validations, a seeded sample of it. Under a time budget the loop keeps back the
    time these take at the end (reserve), and a last one reads only what still fits.
    """

    def __init__(self, ids: torch.Tensor, cfg: TrainConfig, bf16: bool):
        self.ids, self.cfg, self.bf16 = ids, cfg, bf16  # bf16 on the GPU, for speed; the CPU's fp32 is cheap anyway
        self.batch = val_batch_size(cfg)
        self.total = len(Windows(ids, min(cfg.seq_len, len(ids) - 1)))  # a short tail: one short window
        self.every = cfg.val_every if cfg.val_every is not None else (cfg.max_seconds or 0) / 20

    def window_seconds(self, pos: Position) -> float:
        """A window's forward pass, from the training speed so far: about a third of its training step."""
        return pos.train_time / pos.tokens * self.cfg.seq_len / 3 if pos.tokens else 0.0

    def due(self, pos: Position) -> bool:
        return bool(self.every) and pos.train_time >= pos.next_val

    def reserve(self, pos: Position) -> float:
        """The seconds the validations at the end take: the last weights', then the kept ones' on the whole tail."""
        windows = pos.val_windows or self.total
        return (windows + (self.total if windows < self.total else 0)) * self.window_seconds(pos)

    def __call__(self, model: WordLSTM, pos: Position, time_left: float | None, whole: bool = False) -> tuple[float, int]:
        """(the validation loss, the windows read). The first call fixes the windows each reads."""
        per = self.window_seconds(pos)
        if pos.val_windows is None:
            fits = int(self.cfg.val_share * self.every / per) if self.every and per else self.total
            pos.val_windows = min(self.total, max(self.batch, fits))
        pos.next_val = pos.train_time + self.every
        n = self.total if whole else pos.val_windows
        if time_left is not None and per:  # out of time: what fits, and never less than one batch
            n = min(n, max(self.batch, int(time_left / per)))
        return evaluate(model, self.ids, self.cfg.seq_len, self.batch, self.bf16, n), n


def _timed(fn, *args):
    """(fn(*args), the seconds it took)."""
    start = time.perf_counter()
    return fn(*args), time.perf_counter() - start


def _count_time(pos: Position, tick: float) -> float:
    """Add the time since `tick` to the run's training time; returns now."""
    now = time.perf_counter()
    pos.train_time += now - tick
    return now


def _checkpoint(on_checkpoint, model: WordLSTM, optimizer, pos: Position) -> float:
    """Hand a TrainState to `on_checkpoint` (if any); returns the time it was done."""
    if on_checkpoint is not None:
        # pos.best and pos.epoch_rng are CPU tensors that the loop replaces, never changes: shared, not copied.
        on_checkpoint(TrainState(replace(pos, hidden=_cpu(pos.hidden)), _cpu(model.state_dict()),
                                 _cpu(optimizer.state_dict()), torch.get_rng_state()))
    return time.perf_counter()


def _stop_flags(should_stop, cfg: TrainConfig, elapsed: float, pos: Position, world: int, device,
                due: bool) -> tuple[bool, bool, bool]:
    """(stopped by the caller, out of time, validation due). A step that would end
    past the time budget is not started: the budget bounds the wall time, not the
    last step's start. Under DDP the ranks must stop and validate at the same step:
    they agree every log_every steps, and go on in between."""
    next_step = pos.train_time / pos.step if pos.step else 0.0  # the mean step so far
    flags = (should_stop(), bool(cfg.max_seconds and elapsed + next_step >= cfg.max_seconds), due)
    if world == 1:
        return flags
    if pos.step % cfg.log_every:
        return False, False, False
    agreed = torch.tensor(flags, dtype=torch.float32, device=device)
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
    return bool(agreed[0]), bool(agreed[1]), bool(agreed[2])


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
    """Runs a training in a background thread, for front ends that poll.

    `run(ids, model_config, cfg, on_event=, should_stop=, sampler=, init=)` returns (model,
    result): train() by default, or one that trains elsewhere (wordlstm.zerogpu).
    The caller reads `events()`, sets `stop` to end training cleanly, and finds
    `model` and `result` (or `error`) once `done`.
    """

    def __init__(self, ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, run=None, sampler=None,
                 init: dict | None = None):
        self.stop = threading.Event()
        self.model = self.result = self.error = None
        self._events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(run or train, ids, model_config, cfg, sampler, init),
                                        daemon=True, name="wordlstm-training")
        self._thread.start()

    def _run(self, run, ids, model_config, cfg, sampler, init):
        try:
            self.model, self.result = run(ids, model_config, cfg, on_event=self._events.put,
                                          should_stop=self.stop.is_set, sampler=sampler, init=init)
        except Exception as e:  # handed to the caller, who owns the error reporting
            self.error = e
        finally:
            self._events.put(None)  # the end of the stream

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def events(self, every: float = 1.0) -> Iterator[list[Event]]:
        """The events as they come, in lists: each holds what was queued when the
        first of them arrived, or nothing after `every` seconds without one (a
        front end can still refresh, and notice a client that went away).
        Ends once the training has ended."""
        while True:
            try:
                batch = [self._events.get(timeout=every)]
            except queue.Empty:
                yield []
                continue
            while batch[-1] is not None and not self._events.empty():
                batch.append(self._events.get_nowait())
            if batch[-1] is None:  # the end of the stream
                yield batch[:-1]
                return
            yield batch
