"""One training run: the loop, its validation, and its learning-rate schedule.

Flat, as nanoGPT's: each step reads a batch, sets the rate, runs the loss and its backward,
clips and steps; a validation comes at each epoch's end and every `val_every` seconds,
and keeps the best weights. The loop reports plain `Event`s and asks `should_stop()`
between steps, so a caller can watch it and stop it cleanly; a schedule (schedule.py) is
runs of this loop.
"""
import os
import time
from dataclasses import replace

import torch
import torch.distributed as dist
import torch.nn as nn

from ..errors import UserError
from ..model import unseen
from ..model.lstm import ModelConfig, WordLSTM
from ..text.data import Windows, split, split_lengths
from .config import TrainConfig
from .device import autocast, device_name, pick_device, use_bf16, world_info
from .events import Event, Paused, Position, TrainResult, TrainState, progress


def val_batch_size(cfg: TrainConfig) -> int:
    """Windows per validation batch: the training batch, or more, up to 6,400 tokens
    (64 windows of 100), so that validation never needs much more memory than a step."""
    return max(cfg.batch_size, 6400 // cfg.seq_len)


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


@torch.no_grad()
def evaluate(model: WordLSTM, ids: torch.Tensor, seq_len: int, batch_size: int = 64, bf16: bool = False,
             max_windows: int | None = None, lengths=()) -> float:
    """Mean next-token cross-entropy over consecutive, non-overlapping windows of
    `seq_len` tokens, each fed from a zero state: the baseline's protocol.
    max_windows: only that many of them, a seeded sample (the same every time).
    lengths: those of the documents `ids` joins (data.split_lengths), each read on its own."""
    was_training = model.training
    model.eval()
    device = model.device
    windows = Windows(ids, min(seq_len, len(ids) - 1), lengths=lengths)  # a short tail: one short window
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


def run(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, *, on_event=None, should_stop=None,
        on_checkpoint=None, resume: TrainState | None = None, sampler=None, init: dict | None = None,
        pause=None) -> tuple[WordLSTM, TrainResult]:
    """One run of train() (see there), without branches. pause(), if given, is asked between steps, as
    should_stop(): where it is true the run raises Paused with its state, neither validated nor ended, and
    resume=that state goes on exactly, its wall clock included (zerogpu.py's leases)."""
    return _Loop(ids, model_config, cfg, on_event=on_event, should_stop=should_stop, on_checkpoint=on_checkpoint,
                 sampler=sampler, pause=pause).run(resume=resume, init=init)


class _Loop:
    """A run's objects (model, optimizer, data, validation, reporter) and what its parts hand on to
    each other; the position itself is a `Position`, which a checkpoint saves."""

    def __init__(self, ids, model_config, cfg, *, on_event, should_stop, on_checkpoint, sampler, pause=None):
        self.rank, self.world = world_info()
        if self.world > 1 and cfg.batch_size % self.world:
            raise UserError(f"batch_size {cfg.batch_size} must be a multiple of the {self.world} processes")
        if self.rank:  # only rank 0 reports, samples and saves
            on_event = on_checkpoint = sampler = None
        self.cfg, self.on_checkpoint, self.sampler = cfg, on_checkpoint, sampler
        self.should_stop, self.pause = should_stop or (lambda: False), pause or (lambda: False)
        self.device = _device(cfg, self.rank, self.world)
        self.bf16 = use_bf16(self.device, cfg.precision)
        self.report = _Reporter(on_event, cfg, device_name(self.device, self.bf16))
        torch.manual_seed(cfg.seed)  # model init and dropout
        self.shuffle_gen = torch.Generator().manual_seed(cfg.seed)
        train_ids, val_ids = split(ids, cfg.seq_len, cfg.val_fraction, cfg.documents)
        self.windows, self.contiguous = _windows(train_ids, cfg, self.world)
        self.steps_per_epoch = self.windows.num_batches(cfg.batch_size, self.contiguous, self.world)
        self.val = _Validation(val_ids, cfg, self.bf16 and self.device.type == "cuda")
        self.report.total_steps = self.steps_per_epoch * cfg.epochs if cfg.epochs else None
        self.model, self.optimizer, self.loss_step = _build(model_config, cfg, train_ids, self.device, self.world)
        self.loss = self.last_loss = None  # the last step's loss tensor; the last loss read
        self.last_save, self.sample_seconds = time.perf_counter(), 0.0

    def run(self, *, resume: TrainState | None, init: dict | None) -> tuple[WordLSTM, TrainResult]:
        pos = Position(epoch_rng=self.shuffle_gen.get_state(), next_val=self.val.every)  # next_val: see _Validation
        if init is not None and resume is None:
            self.model.load_state_dict(init)
        if resume is not None:
            pos = _restore(resume, self.model, self.optimizer, self.cfg, self.device)
            self.report.t0 -= pos.elapsed  # the clock goes on where it was saved
        self.report("start", pos)
        while True:
            stopped, out_of_time = self._train(pos)
            ends = self._validate(pos, stopped=stopped, out_of_time=out_of_time)
            if ends:
                return self._finish(pos, stopped=stopped, out_of_time=out_of_time)

    def _train(self, pos: Position) -> tuple[bool, bool]:
        """Train until the epoch ends, a validation is due or the run must end; returns
        (stopped by the caller, out of time)."""
        cfg, report, stopped, out_of_time = self.cfg, self.report, False, False
        self.shuffle_gen.set_state(pos.epoch_rng)  # the epoch's order, drawn again when resuming mid-epoch
        tick = time.perf_counter()
        for x, y in self.windows.batches(cfg.batch_size, self.contiguous, self.shuffle_gen, start=pos.epoch_steps,
                                         rank=self.rank, world=self.world):
            x, y = _to(self.device, x), _to(self.device, y)
            if cfg.schedule != "constant":
                done = progress(pos, cfg, report.total_steps, report.elapsed())[0]
                for group in self.optimizer.param_groups:
                    group["lr"] = cfg.lr * lr_factor(cfg, done, pos.anneal, pos.step)
            with autocast(self.device, self.bf16):
                self.loss, hidden = self.loss_step(x, pos.hidden, y)
            pos.hidden = (hidden[0].detach(), hidden[1].detach()) if self.contiguous else None
            self.optimizer.zero_grad(set_to_none=True)
            self.loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            pos.step, pos.epoch_steps = pos.step + 1, pos.epoch_steps + 1
            pos.tokens += y.numel() * self.world
            # The loss and the clock are read only at log steps: on a GPU each read waits for it to finish.
            if pos.step == 1 or pos.step % cfg.log_every == 0:
                self.last_loss, tick = self.loss.item(), _count_time(pos, tick)
                report("step", pos, self.last_loss)
            stopped, out_of_time, due = _stop_flags(self.should_stop, cfg, report.elapsed() + self.val.reserve(pos),
                                                    pos, self.world, self.device, self.val.due(pos))
            if stopped or out_of_time or due or pos.annealed:
                break
            if self.pause():
                _count_time(pos, tick)
                raise Paused(self._state(pos))
            if self.on_checkpoint is not None and time.perf_counter() - self.last_save >= cfg.save_every:
                _count_time(pos, tick)
                self.last_save = tick = self._checkpoint(pos)
        _count_time(pos, tick)
        if pos.epoch_steps and self.loss is not None:
            self.last_loss = self.loss.item()
        return stopped, out_of_time

    def _validate(self, pos: Position, *, stopped: bool, out_of_time: bool) -> bool:
        """Validate, keep the best weights, write the live sample, report; returns whether the run ends."""
        cfg = self.cfg
        finished_epoch = pos.epoch_steps == self.steps_per_epoch
        self.epochs_done = pos.epoch - 1 + pos.epoch_steps / self.steps_per_epoch
        val_loss, self.val_read = self.val(self.model, pos, cfg.max_seconds and cfg.max_seconds - self.report.elapsed())
        if val_loss < pos.best_loss:
            pos.best_loss, pos.best, pos.since_best, pos.best_step = val_loss, _cpu(self.model.state_dict()), 0, pos.step
        else:
            pos.since_best += 1
        # The sample comes from the weights just validated, before patience may load the best ones:
        # a row of samples shows the text of the weights whose perplexity it shows.
        sample, took = _timed(self.sampler, self.model) if self.sampler is not None else (None, 0.0)
        self.sample_seconds += took  # kept out of the training time: it is not training
        self.early = self._out_of_patience(pos)
        self.report("val", pos, self.last_loss, val_loss, sample)
        self.ended_epoch = pos.epoch
        self.all_done = bool(cfg.epochs and pos.epoch >= cfg.epochs and finished_epoch)
        if finished_epoch:  # the cursor moves to the next epoch before saving, so a resume starts there
            pos.epoch, pos.epoch_steps, pos.hidden = pos.epoch + 1, 0, None
            pos.epoch_rng = self.shuffle_gen.get_state()
        ends = self.all_done or stopped or out_of_time or self.early
        if finished_epoch or ends:  # a validation within an epoch leaves saving to the clock (save_every)
            self.last_save = self._checkpoint(pos)
        return ends

    def _state(self, pos: Position) -> TrainState:
        """The run as it stands, on the CPU, to continue it exactly."""
        # pos.best and pos.epoch_rng are CPU tensors that the loop replaces, never changes: shared, not copied.
        return TrainState(replace(pos, hidden=_cpu(pos.hidden), elapsed=self.report.elapsed()),
                          _cpu(self.model.state_dict()), _cpu(self.optimizer.state_dict()), torch.get_rng_state())

    def _checkpoint(self, pos: Position) -> float:
        """Hand a TrainState to `on_checkpoint` (if any); returns the time it was done."""
        if self.on_checkpoint is not None:
            self.on_checkpoint(self._state(pos))
        return time.perf_counter()

    def _out_of_patience(self, pos: Position) -> bool:
        """Whether patience has run out. Under the linear schedule, the first time it does, the
        run goes back to the best weights and anneals from there instead (TrainConfig.patience)."""
        cfg = self.cfg
        early = bool(cfg.patience and pos.since_best >= cfg.patience)
        if early and cfg.schedule == "linear" and pos.anneal is None and pos.step > pos.best_step:
            # The steps since the best only overfit: anneal from the best weights, not from the last.
            done = progress(pos, cfg, self.report.total_steps, self.report.elapsed())[0]
            pos.anneal = (pos.step, 2 * pos.step - pos.best_step, lr_factor(cfg, done, None, pos.step))
            pos.since_best, early = 0, False
            self.model.load_state_dict(pos.best)
        return early or pos.annealed

    def _finish(self, pos: Position, *, stopped: bool, out_of_time: bool) -> tuple[WordLSTM, TrainResult]:
        """The best weights, validated on the whole tail if the validations read a sample of it."""
        cfg, report = self.cfg, self.report
        if pos.best is not None:
            self.model.load_state_dict(pos.best)
        best_loss, val_read = pos.best_loss, self.val_read
        if pos.val_windows < self.val.total:
            best_loss, val_read = self.val(self.model, pos, cfg.max_seconds and cfg.max_seconds - report.elapsed(),
                                           whole=True)
        ended = self.all_done or stopped or out_of_time
        result = TrainResult(val_loss=best_loss, steps=pos.step, tokens=pos.tokens, epochs=self.epochs_done,
                             seconds=report.elapsed(), train_seconds=pos.train_time, device=report.device,
                             stopped=stopped, stopped_early=self.early and not ended, annealed=pos.anneal is not None,
                             sample_seconds=self.sample_seconds, val_coverage=val_read / self.val.total)
        report("done", replace(pos, epoch=self.ended_epoch), self.last_loss, best_loss)
        return self.model, result


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
    lengths = split_lengths(cfg.documents, cfg.seq_len, cfg.val_fraction)[0]  # no window spans two documents
    windows = Windows(train_ids, cfg.seq_len, cfg.stride, lengths)
    if world > 1 and len(windows) < cfg.batch_size:  # some ranks would get no rows at all
        raise UserError(f"the training text has {len(windows)} windows, fewer than the batch of {cfg.batch_size} "
                        f"shared by {world} processes; give more text, or lower batch_size or seq_len")
    return windows, windows.stride == cfg.seq_len and not cfg.shuffle


def _build(model_config: ModelConfig, cfg: TrainConfig, train_ids: torch.Tensor, device: torch.device, world: int):
    """The model (on `device`, in train mode), its optimizer, and the module whose forward is the loss."""
    counts = word_counts(train_ids, model_config.vocab_size)
    model = WordLSTM(unseen.resolve(model_config, counts))
    model.init_output_bias(counts)
    model = model.to(device)
    # The fused kernel updates all parameters in one pass: ~8% more tokens/s on the CPU.
    adam = torch.optim.AdamW if cfg.weight_decay else torch.optim.Adam  # decoupled decay; none: plain Adam
    optimizer = adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type in ("cpu", "cuda"))
    model.train()
    loss_step = LossStep(model)
    if world > 1:  # gradients averaged across ranks, bucketed and overlapped with backward
        loss_step = nn.parallel.DistributedDataParallel(
            loss_step, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=model.adaptive)  # a rank's batch may have no word of some cluster
    return model, optimizer, loss_step


def word_counts(train_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    return torch.bincount(train_ids.long(), minlength=vocab_size)[:vocab_size]


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
        self.lengths = split_lengths(cfg.documents, cfg.seq_len, cfg.val_fraction)[1]
        # A tail shorter than a window (one document only) is read as one short window.
        self.total = len(Windows(ids, min(cfg.seq_len, len(ids) - 1), lengths=self.lengths))
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
        return evaluate(model, self.ids, self.cfg.seq_len, self.batch, self.bf16, n, self.lengths), n


def _timed(fn, *args):
    """(fn(*args), the seconds it took)."""
    start = time.perf_counter()
    return fn(*args), time.perf_counter() - start


def _count_time(pos: Position, tick: float) -> float:
    """Add the time since `tick` to the run's training time; returns now."""
    now = time.perf_counter()
    pos.train_time += now - tick
    return now




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


class LossStep(nn.Module):
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
