"""Branches (TrainConfig.branches): after a first run, K more from its best weights, each with its own
seed and a share of the budget; the model is the mean of the K branches' weights, a model soup
(Wortsman et al., 2022).

The branches start in one basin, so their mean is a model of its own: it beats each branch, which
beats the first run, and it does better without the first run (docs/recipe.md). One model's cost:
the same file, memory and generation speed as a single run's. The mean's validation on the whole
tail comes after the budget, which the runs share.

A run that ends early (patience: more would only overfit) leaves time: each run's share is what is
left over the runs still to come (and where runs overran a short budget, a run left less than LEFTOVER
of a share is not trained). With TrainConfig.fill_budget (--size auto), what the last one
leaves, if enough, trains one more branch, up to MAX_BRANCHES; a single run that ends early goes on
the same way. So a budget is spent on what still helps, not returned unused.

With TrainConfig.members, each member is such a first run and its branches, from its own start (its
seeds), one after the other, each run with an equal share; the model is the members' ensemble
(ensemble.py): models from different starts land in different basins, whose weights cannot be
averaged but whose probabilities can. Time left over goes to more branches of the last member.
"""
from dataclasses import replace

import torch

from ..model.ensemble import Ensemble
from ..model.lstm import ModelConfig, WordLSTM
from ..text.data import split, split_lengths
from . import loop
from .config import TrainConfig
from .device import world_info
from .events import Event, TrainResult, TrainState

LEFTOVER = 0.25  # a run, planned or one more, trains where at least this share of a planned run's time is left
MAX_BRANCHES = 8  # a member's, planned and from time left over together


def run_configs(cfg: TrainConfig) -> list[TrainConfig]:
    """The settings of each planned run: each member's first, then its branches; each with its seed, its
    equal share of the budget (the share it gets at the start: a run that ends early gives its time to the
    next) and at most run_epochs epochs."""
    each = replace(cfg, branches=0, members=1, max_seconds=cfg.run_seconds, epochs=cfg.run_epochs_cap)
    return [replace(each, seed=cfg.seed + i) for i in range(cfg.runs)]


def branched(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, *, on_event=None, should_stop=None,
             on_checkpoint=None, resume: TrainState | None = None, sampler=None,
             init: dict | None = None, run=loop.run) -> tuple[WordLSTM | Ensemble, TrainResult]:
    """Each member's first run, its branches from that run's best weights, and the mean of the branches'
    weights; with members, their ensemble. Without branches or members planned or trained, the first
    run's model and result as they are. The first run alone takes checkpoints and a resume, where no other
    run is planned. run: what trains each run, loop.run's way."""
    rank, world = world_info()
    relay = _Relay(None if rank else on_event, cfg)  # only rank 0 reports, as in a run
    planned, results, models = run_configs(cfg), [], []
    one = replace(model_config, members=1)  # each run trains one model
    model = first = soup = None  # the last run's model, its member's first weights, its branches' sum
    while (run_cfg := next_run(cfg, planned, results, adaptive=world == 1)) is not None:
        member, branch = place(cfg, len(results))
        if not branch and results:  # a new member's first run: the one before is done
            models.append(_mean(model, soup, place(cfg, len(results) - 1)[1]))
        alone = dict(on_checkpoint=on_checkpoint, resume=resume) if cfg.runs == 1 and not results else {}
        relay.at(member, branch)
        model, result = run(ids, one, run_cfg, on_event=relay, should_stop=should_stop,
                            sampler=sampler, init=first if branch else init, **alone)
        relay.carry(result)
        results.append(result)
        weights = model.state_dict()
        if not branch:  # where branches may follow, they start from its weights
            first = {k: w.detach().clone() for k, w in weights.items()} if cfg.branches or cfg.fill_budget else None
            soup = None
        elif soup is None:  # a sum in float32, not a list: two copies of the weights, whatever the branches
            soup = {k: w.detach().float().clone() for k, w in weights.items()}
        else:
            for k, w in weights.items():
                soup[k].add_(w.float())
        if result.stopped:
            break
    models.append(_mean(model, soup, place(cfg, len(results) - 1)[1]))
    if len(results) == 1:
        relay.finish(results[0])
        return model, results[0]
    model = models[0] if len(models) == 1 else Ensemble(replace(models[0].config, members=len(models)), models)
    _, val_ids = split(ids, cfg.seq_len, cfg.val_fraction, cfg.documents)
    val_lengths = split_lengths(cfg.documents, cfg.seq_len, cfg.val_fraction)[1]
    totals = {f: sum(getattr(r, f) for r in results)
              for f in ("steps", "epochs", "tokens", "seconds", "train_seconds", "sample_seconds")}
    val_loss = loop.evaluate(model, val_ids, cfg.seq_len, lengths=val_lengths)
    branches = len(results) - len(models)
    result = replace(results[-1], val_loss=val_loss, **totals, stopped_early=False,
                     annealed=False, val_coverage=1.0, branches=branches, members=len(models),
                     leftover_branches=max(0, len(results) - len(planned)))
    relay.finish(result)
    return model, result


def place(cfg: TrainConfig, run: int) -> tuple[int, int]:
    """Run number `run`'s member, and its branch in it (0: the member's first run). The planned runs are
    each member's first and branches in turn; a run past them, on time left over, is one more branch of
    the last member."""
    each = cfg.branches + 1
    return divmod(run, each) if run < cfg.runs else (cfg.members - 1, run - cfg.runs + each)


def _mean(model: WordLSTM, soup: dict | None, branches: int) -> WordLSTM:
    """A member's model: `model`, its last run's (its `branches`-th branch), with the mean of its branches'
    weights, `soup` their sum; without branches (soup None), `model` as it is."""
    if soup is not None:
        weights = model.state_dict()
        model.load_state_dict({k: (w / branches).to(weights[k].dtype) for k, w in soup.items()})
    return model


def next_run(cfg: TrainConfig, planned: list[TrainConfig], results: list[TrainResult], *,
              adaptive: bool) -> TrainConfig | None:
    """The settings of the next run, or None: the planned runs, each with its share of the time left
    while that is enough, then one more branch while the last run left enough time. Under DDP (not
    `adaptive`) the ranks' clocks differ, so they keep to the plan, which they agree on."""
    done = len(results)
    if not adaptive or not cfg.max_seconds:
        return planned[done] if done < len(planned) else None
    left, least = cfg.max_seconds - sum(r.seconds for r in results), LEFTOVER * cfg.run_seconds
    if done < len(planned):
        # Runs overrun their shares a little (setup, the last validation); on a budget of a second or two
        # that can leave the next run next to nothing, or less: the runs trained so far are the model then
        share = left / (len(planned) - done)
        return replace(planned[done], max_seconds=share) if share >= least else None
    if not (cfg.fill_budget and results[-1].stopped_early) or place(cfg, done)[1] > MAX_BRANCHES or left < least:
        return None
    return replace(planned[-1], seed=cfg.seed + done, max_seconds=left)


class _Relay:
    """The runs' events as one run's: progress, time and steps carry on from the runs before; one "start",
    and one "done": the first run's if it is the only one, else after a last "val", the model's (the mean
    of the branches, or the members' ensemble)."""

    def __init__(self, on_event, cfg: TrainConfig):
        self.on_event, self.runs, self.run = on_event, cfg.runs, 0  # planned, and trained so far
        self.member, self.branch = 0, 0  # where the run now training stands, for people
        # Where runs may end on their epochs, before the budget, progress counts runs, not the clock
        self.budget = None if cfg.run_epochs_cap else cfg.max_seconds
        self.steps, self.seconds, self.last, self.done, self.base = 0, 0.0, None, None, 0.0

    def at(self, member: int, branch: int):
        """The next run's place: its member, and its branch in it (0: the member's first run)."""
        self.member, self.branch = member, branch

    def __call__(self, e: Event):
        if self.on_event is None or (e.kind == "start" and self.run):
            return
        if self.budget and (self.run or self.runs > 1):  # the runs share one budget, whatever each takes
            spent = self.seconds + e.elapsed
            done, eta = min(1.0, spent / self.budget), max(0.0, self.budget - spent)
        else:  # each run, the planned ones and any the time left adds, an equal part of what the bar has left
            after = max(0, self.runs - self.run - 1)
            left = after * (e.elapsed + e.eta) if e.eta is not None else 0.0
            done, eta = self.base + (1.0 - self.base) * e.progress / (after + 1), e.eta and e.eta + left
        event = replace(e, step=self.steps + e.step, total_steps=e.total_steps and e.total_steps * self.runs,
                        progress=done, elapsed=self.seconds + e.elapsed, eta=eta, branch=self.branch,
                        member=self.member)
        if e.kind == "done":  # held back: more runs may follow
            self.done = event
            return
        self.last = event
        self.on_event(event)

    def carry(self, result: TrainResult):
        """A run has ended: the next one's events carry on from it."""
        self.steps, self.seconds = self.steps + result.steps, self.seconds + result.seconds
        self.run += 1
        self.base = max((e.progress for e in (self.last, self.done) if e), default=self.base)

    def finish(self, result: TrainResult):
        if self.on_event is None or self.last is None:
            return
        if not (result.branches or result.members > 1):
            self.on_event(self.done or replace(self.last, kind="done"))
            return
        end = replace(self.last, progress=self.last.progress if result.stopped else 1.0, eta=0.0,
                      val_loss=result.val_loss, sample=None, branch=None,
                      member=None if result.members > 1 else 0)
        self.on_event(replace(end, kind="val"))
        self.on_event(replace(end, kind="done"))
