"""Branches (TrainConfig.branches): after a first run, K more from its best weights, each with its own
seed and an equal share of the budget; the model is the mean of the K branches' weights, a model soup
(Wortsman et al., 2022).

The branches start in one basin, so their mean is a model of its own: it beats each branch, which
beats the first run, and it does better without the first run (docs/recipe.md). One model's cost:
the same file, memory and generation speed as a single run's. The mean's validation on the whole
tail comes after the budget, which the runs share.
"""
from dataclasses import replace

import torch

from . import loop
from .config import TrainConfig
from .data import split
from .device import world_info
from .events import Event, TrainResult
from .model import ModelConfig, WordLSTM


def run_configs(cfg: TrainConfig) -> list[TrainConfig]:
    """The settings of each run: the first, then the branches; each with its share of the budget and its seed."""
    each = replace(cfg, branches=0, max_seconds=cfg.run_seconds)
    return [replace(each, seed=cfg.seed + i) for i in range(cfg.branches + 1)]


def branched(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, *, on_event=None, should_stop=None,
             sampler=None, init: dict | None = None) -> tuple[WordLSTM, TrainResult]:
    """The first run, cfg.branches more from its best weights, and the mean of the branches' weights."""
    relay = _Relay(None if world_info()[0] else on_event, cfg.branches + 1)  # only rank 0 reports, as in a run
    first, soup, results = None, None, []  # the first run's best weights; the sum of the branches'
    for branch, run_cfg in enumerate(run_configs(cfg)):
        model, result = loop.run(ids, model_config, run_cfg, on_event=relay, should_stop=should_stop,
                                 sampler=sampler, init=first if branch else init)
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
    val_loss = loop.evaluate(model, val_ids, cfg.seq_len) if branches else results[0].val_loss
    last = results[-1]
    totals = {f: sum(getattr(r, f) for r in results)
              for f in ("steps", "epochs", "tokens", "seconds", "train_seconds", "sample_seconds")}
    result = replace(last, val_loss=val_loss, **totals, stopped_early=False, annealed=False,
                     val_coverage=1.0 if branches else last.val_coverage, branches=branches)
    relay.finish(result)
    return model, result


class _Relay:
    """The runs' events as one run's: progress, time and steps carry on from the runs before; one "start",
    and one "done" after a last "val", the mean's."""

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

    def carry(self, result: TrainResult):
        """A run has ended: the next one's events carry on from it."""
        self.steps, self.seconds = self.steps + result.steps, self.seconds + result.seconds
        self.branch += 1

    def finish(self, result: TrainResult):
        if self.on_event is None or self.last is None:
            return
        end = replace(self.last, progress=self.last.progress if result.stopped else 1.0, eta=0.0,
                      val_loss=result.val_loss, sample=None, branch=None if result.branches else 0)
        if result.branches:
            self.on_event(replace(end, kind="val"))
        self.on_event(replace(end, kind="done"))
