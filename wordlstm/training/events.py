"""Where a run stands (Position, TrainState) and what it reports (Event, TrainResult).

The loop knows nothing about who watches: it reports plain `Event`s, which any front end
can show (a terminal bar, a Gradio plot). A checkpoint of a run in progress (`TrainState`)
is its position plus the weights, Adam and the RNG.
"""
import math
from dataclasses import dataclass

import torch

from ..errors import count
from .config import TrainConfig


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
    elapsed: float = 0.0  # the run's wall clock when saved: a paused run (Paused) goes on from it

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


class Paused(Exception):
    """A run paused between two steps (loop.run's `pause`), with the state that continues it exactly:
    train(..., resume=e.state). How a training moves between GPU leases (zerogpu.py)."""

    def __init__(self, state: TrainState):
        super().__init__("paused")
        self.state = state


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
    branch: int | None = 0  # under a schedule: 0 a model's first run, i its i-th branch, None their mean
    member: int | None = 0  # under a schedule: which model of the ensemble trains (0 the first), None: all
    note: str | None = None  # what the user should know of where it trains (zerogpu.py: a refused lease)

    @property
    def val_ppl(self) -> float | None:
        return None if self.val_loss is None else perplexity(self.val_loss)

    def describe(self, text: str) -> str:
        """Where the run stands, for people (Markdown): training on `text`."""
        where = "the mean of the branches, " if self.branch is None else f"branch {self.branch}, " if self.branch else ""
        if self.member:
            where = f"model {self.member + 1} of the ensemble, {where}"
        elif self.member is None and self.branch is None:
            where = "the ensemble, "
        parts = [f"Training on **{self.device}** on `{text}`: {where}epoch {self.epoch}, step {self.step}"
                 # not past it: branches on time left over run more steps than were planned
                 + (f"/{self.total_steps}" if self.total_steps and self.step <= self.total_steps else ""),
                 f"{self.tokens_per_s:,.0f} tokens/s"]
        if self.train_loss is not None:
            parts.append(f"train loss {self.train_loss:.3f}")
        if self.val_loss is not None:
            parts.append(f"validation perplexity {self.val_ppl:.1f}")
        return ", ".join(parts) + (f". {self.note}" if self.note else "")


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
    branches: int = 0  # the branches whose mean the model is (the schedule's; fewer if stopped)
    leftover_branches: int = 0  # of those, trained on time that runs ending early left (schedule.py)
    members: int = 1  # the models of the ensemble (the schedule's; fewer if stopped)
    note: str | None = None  # what the user should know of where it trained (zerogpu.py: a refused lease)

    @property
    def val_ppl(self) -> float:
        return perplexity(self.val_loss)

    def describe(self, text: str, patience: int | None) -> str:
        """How the run ended, for people (Markdown): trained on `text`, with `patience` (TrainConfig's)."""
        partial = f" (on {self.val_coverage:.0%} of the held-out text: the time budget)" if self.val_coverage < 1 else ""
        if self.stopped_early:  # a shared server's queue is free sooner; more training would only have overfit
            partial += f"; {self.early_note(patience)}"
        if self.members > 1:
            each = (f", {count(self.branches, 'branch', 'branches')} in all{self.leftover_note()}"
                    if self.branches else "")
            partial += f"; an ensemble of {self.members} models trained apart{each}"
        elif self.branches:
            partial += f"; the mean of {count(self.branches, 'branch', 'branches')}{self.leftover_note()}"
        return (f"{'Stopped' if self.stopped else 'Done'}: trained on `{text}`, {self.steps} steps in "
                f"{self.seconds:.0f} s on **{self.device}**, {self.tokens_per_s:,.0f} tokens/s; validation "
                f"perplexity **{self.val_ppl:.1f}**{partial}." + (f" {self.note}." if self.note else ""))

    def early_note(self, patience: int | None) -> str:
        """How the run ended early, for people ("" if it did not)."""
        if not self.stopped_early:
            return ""
        annealed = ", then annealed the rate to zero" if self.annealed else ""
        return f"stopped early at {self.seconds:.0f} s: no gain in {patience} validations in a row{annealed}"

    def leftover_note(self) -> str:
        """How many branches trained on time left over, for people ("" if none)."""
        if not self.leftover_branches:
            return ""
        return (f" ({self.leftover_branches} of them on the time left by runs that ended early: more of one run "
                f"would only have overfit)")

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict:
        """What a checkpoint records about the training run."""
        return {"val_loss": self.val_loss, "val_ppl": self.val_ppl, "steps": self.steps, "epochs": self.epochs,
                "tokens": self.tokens, "seconds": round(self.seconds, 1), "device": self.device,
                "stopped": self.stopped, "stopped_early": self.stopped_early, "annealed": self.annealed,
                "val_coverage": round(self.val_coverage, 4), **({"branches": self.branches} if self.branches else {}),
                **({"leftover_branches": self.leftover_branches} if self.leftover_branches else {}),
                **({"members": self.members} if self.members > 1 else {})}


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
