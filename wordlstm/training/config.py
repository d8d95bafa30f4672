"""How one run trains (TrainConfig); how a budget is shared between runs is the schedule's (schedule.py).

Its defaults are read by name (`TrainConfig.seq_len`) by the CLI and the app, so each default is written once.
"""
from dataclasses import dataclass

from ..config import Config
from ..errors import UserError


@dataclass
class TrainConfig(Config):
    seq_len: int = 100  # tokens per window, as in the book
    stride: int | None = None  # window step; None = seq_len, 1 = the book
    # The order of the windows: a new shuffle every epoch, each window from a zero state (as validation
    # reads them); or, for non-overlapping windows, False: parallel streams through the text with the state
    # carried across batches (truncated BPTT). Shuffled learns more from a small text, where the streams'
    # one fixed order, epoch after epoch, is learnt by heart (docs/recipe.md, the ablation).
    shuffle: bool = True
    batch_size: int = 32  # windows per step, as in the book (the global batch under DDP)
    lr: float = 1e-2  # Adam's peak rate; the book's 1e-4 barely moves in a minute (docs/recipe.md)
    epochs: int | None = 10  # None: until max_seconds
    max_seconds: float | None = None  # wall-clock budget, validation included
    val_fraction: float = 0.1  # the contiguous tail held out for validation (of each document)
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
    # The token counts of the documents the text joins, one after the other (Corpus.documents: its files):
    # no window spans two, and each gives its own tail to validation (data.split_lengths). (): one document.
    documents: tuple[int, ...] = ()

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
        self.documents = tuple(self.documents)  # config.json gives a list
        if any(n < 0 for n in self.documents):
            raise UserError("documents are token counts, 0 or more")

    @classmethod
    def from_dict(cls, recorded: dict, **overrides):
        # Runs recorded when the schedule's settings were TrainConfig's have them in their config.json's
        # "train"; they are the schedule's now (recorded beside it, as "schedule").
        return super().from_dict({k: v for k, v in recorded.items() if k not in SCHEDULED}, **overrides)


SCHEDULED = ("branches", "members", "fill_budget", "run_epochs")
