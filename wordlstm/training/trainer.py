"""train(): the one entry to training, for the CLI, the app and the benchmark.

A run is the loop in loop.py; a schedule (schedule.py) is several runs: branches whose weights are
averaged, models trained apart as an ensemble. Where a run stands and what it reports are in
events.py; where it runs (device, precision, processes) in device.py.
"""
from dataclasses import replace

import torch

from ..errors import UserError
from ..model import unseen
from ..model.ensemble import Ensemble
from ..model.lstm import ModelConfig, WordLSTM
from ..text.data import split
from . import loop
from .config import TrainConfig
from .events import TrainResult, TrainState
from .schedule import Schedule, run_schedule


def train(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, *, schedule: Schedule | None = None,
          on_event=None, should_stop=None, on_checkpoint=None, resume: TrainState | None = None, sampler=None,
          init: dict | None = None, run=None) -> tuple[WordLSTM | Ensemble, TrainResult]:
    """Train on the token stream `ids`; returns the model with the best weights loaded.

    schedule, if given (planning.plan_training makes it), is how cfg's budget is spent: runs of branches
    and models trained apart, which report as one run (progress, steps and time carry on; each event
    says its branch and model), and the result is their mean's or their ensemble's. None: one run.

    on_event(Event), if given, receives the run's progress; should_stop() is asked between steps.

    sampler(model) -> str, if given (e.g. sample.LiveSampler), writes a short
    text after each validation, which the "val" event carries.

    init, if given, is a state dict the new model starts from (warmstart.transfer).

    on_checkpoint(TrainState), if given, is called every `cfg.save_every`
    seconds, after each epoch's validation, and at the end, by a schedule of one run. `resume`
    continues from such a state: with the same data and settings, the weights come out
    exactly as in an uninterrupted run (on the same device and threads).

    Under torch.distributed (the caller initialises the process group, e.g.
    scripts/train.py under torchrun), this is DDP: `cfg.batch_size` is the
    global batch, each rank trains on its own rows of it, and only rank 0
    reports events and checkpoints.

    run, if given, trains each run in place of loop.run, with its signature: zerogpu.Chunked trains
    them in GPU leases.
    """
    schedule = schedule or Schedule.of(cfg)
    if len(schedule.runs) > 1 and resume is not None:
        raise UserError("a run with branches or members cannot be resumed: train it again, or with branches 0 "
                        "and members 1")
    return run_schedule(ids, model_config, cfg, schedule, on_event=on_event, should_stop=should_stop,
                        on_checkpoint=on_checkpoint, resume=resume, sampler=sampler, init=init, run=run or loop.run)


def trained_config(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, members: int = 1) -> ModelConfig:
    """The config of the model that train(ids, model_config, cfg) plans to return, of `members` models (the
    schedule's): the unseen words of its training text counted in, with their share (unseen.py). For a
    caller that rebuilds that model from its weights (ensemble.build)."""
    train_ids, _ = split(ids, cfg.seq_len, cfg.val_fraction, cfg.documents)
    counted = unseen.resolve(model_config, loop.word_counts(train_ids, model_config.vocab_size))
    return replace(counted, members=members)
