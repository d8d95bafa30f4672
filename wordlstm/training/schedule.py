"""How a training spends its budget, as a value: the runs, one after the other, and the rule for the
time that runs leave unused. The planner (planning/planner.py) makes it, train() runs it, and the
progress every front end shows is re-based here, in one place (`Relay`).

A member is one model of the ensemble: its first run (a new start, or the warm start), then its
branches, each from the first run's best weights with its own seed; the member is the mean of its
branches' weights, a model soup (Wortsman et al., 2022), which beats each branch (docs/recipe.md,
"Branches"). Members start apart and land in different basins, so their weights cannot be averaged,
but their next-word probabilities can (model/ensemble.py; docs/recipe.md, "Ensembles").

A run that ends early (patience: more would only overfit) leaves time: each run's budget is its share
of the time left, and with `fill`, what the last run leaves trains one more branch of the last member,
up to MAX_BRANCHES, while at least LEFTOVER of a planned run's time is left.
"""
from dataclasses import asdict, dataclass, replace

import torch

from ..errors import UserError, count
from ..model.ensemble import Ensemble
from ..model.lstm import ModelConfig, WordLSTM
from ..text.data import split, split_lengths
from . import loop
from .config import TrainConfig
from .device import world_info
from .events import Event, TrainResult, TrainState

LEFTOVER = 0.25  # a run trains where at least this share of a planned run's time is left: less is noise
MAX_BRANCHES = 8  # a member's, planned and from time left over together: the most measured


@dataclass(frozen=True)
class Run:
    member: int  # which model of the ensemble (0: the first)
    branch: int  # 0: the member's first run; i: its i-th branch, from the first run's best weights
    seed: int  # model init, dropout and window order
    share: float  # of the time budget, as planned (a run that ends early leaves its time to the next)
    epochs: int | None  # the most epochs it trains; None: its share of the time bounds it

    def describe(self, budget: float | None) -> str:
        where = f"model {self.member + 1}, " + ("first run" if not self.branch else f"branch {self.branch}")
        time = f", {self.share * budget:.0f} s" if budget else ""
        most = f", at most {count(self.epochs, 'epoch')}" if self.epochs else ""
        return f"{where}, seed {self.seed}{time}{most}"


@dataclass(frozen=True)
class Schedule:
    runs: tuple[Run, ...]
    fill: bool = False  # time that runs ending early leave trains more branches of the last member

    @classmethod
    def of(cls, cfg: TrainConfig, members: int = 1, branches: int = 0, run_epochs: int | None = None,
           fill: bool = False) -> "Schedule":
        """`members` models, each a first run and `branches` more, in turn, on equal shares of cfg's budget;
        each run's seed cfg.seed + its number, its epochs the fewer of cfg.epochs and `run_epochs`."""
        cls.check(members, branches, run_epochs)
        each = members * (branches + 1)
        epochs = min(filter(None, (cfg.epochs, run_epochs)), default=None)
        runs = [Run(*divmod(i, branches + 1), seed=cfg.seed + i, share=1 / each, epochs=epochs) for i in range(each)]
        return cls(tuple(runs), fill)

    @staticmethod
    def check(members: int | None = 1, branches: int | None = 0, run_epochs: int | None = None):
        """UserError for counts no schedule can have; None: to be chosen."""
        if branches is not None and branches < 0:
            raise UserError(f"branches must be 0 (one run) or more (got {branches})")
        if members is not None and members < 1:
            raise UserError(f"members must be 1 (one model) or more (got {members})")
        if run_epochs is not None and run_epochs < 1:
            raise UserError(f"run_epochs must be at least 1 (got {run_epochs})")

    @classmethod
    def from_dict(cls, recorded: dict) -> "Schedule":
        return cls(tuple(Run(**r) for r in recorded["runs"]), recorded.get("fill", False))

    def as_dict(self) -> dict:
        return {"runs": [asdict(r) for r in self.runs], "fill": self.fill}

    @property
    def members(self) -> int:
        return self.runs[-1].member + 1

    @property
    def branches(self) -> int:
        """Each member's planned branches."""
        return sum(r.member == 0 for r in self.runs) - 1

    @property
    def run_epochs(self) -> int | None:
        """The most epochs any run trains, or None where only time bounds them."""
        return max((r.epochs for r in self.runs), default=None) if all(r.epochs for r in self.runs) else None

    def run_seconds(self, budget: float | None) -> float | None:
        """The first run's planned share of `budget` (all runs' shares are equal where the planner made them)."""
        return budget and budget * self.runs[0].share

    def describe(self, budget: float | None) -> list[str]:
        """The runs, one line each, and the rule for time left over: what `train --dry-run` prints."""
        lines = [f"run {i + 1}: {r.describe(budget)}" for i, r in enumerate(self.runs)]
        if self.fill:
            lines.append(f"then, while runs that end early leave time: more branches of the last model, up to "
                         f"{MAX_BRANCHES}")
        return lines

    def next_run(self, cfg: TrainConfig, results: list[TrainResult], *,
                 adaptive: bool) -> tuple[Run, TrainConfig] | None:
        """The next run and its settings, or None: the planned runs, each with its share of the time left while
        that is enough, then one more branch while the last run left enough time. Under DDP (not `adaptive`)
        the ranks' clocks differ, so they keep to the plan, which they agree on."""
        done = len(results)
        if not adaptive or not cfg.max_seconds:
            return (self.runs[done], self._settings(cfg, self.runs[done], None)) if done < len(self.runs) else None
        left = cfg.max_seconds - sum(r.seconds for r in results)
        least = LEFTOVER * cfg.max_seconds * self.runs[min(done, len(self.runs) - 1)].share
        if done < len(self.runs):
            # Runs overrun their shares a little (setup, the last validation); on a budget of a second or two
            # that can leave the next run next to nothing, or less: the runs trained so far are the model then
            share = left * self.runs[done].share / sum(r.share for r in self.runs[done:])
            return (self.runs[done], self._settings(cfg, self.runs[done], share)) if share >= least else None
        last = self.runs[-1]
        branch = last.branch + done - len(self.runs) + 1
        if not (self.fill and results[-1].stopped_early) or branch > MAX_BRANCHES or left < least:
            return None
        more = replace(last, branch=branch, seed=cfg.seed + done)
        return more, self._settings(cfg, more, left)

    @staticmethod
    def _settings(cfg: TrainConfig, run: Run, seconds: float | None) -> TrainConfig:
        return replace(cfg, seed=run.seed, epochs=run.epochs,
                       max_seconds=seconds if seconds is not None else cfg.max_seconds and cfg.max_seconds * run.share)


def run_schedule(ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, schedule: Schedule, *,
                 on_event=None, should_stop=None, on_checkpoint=None, resume: TrainState | None = None,
                 sampler=None, init: dict | None = None, run=loop.run) -> tuple[WordLSTM | Ensemble, TrainResult]:
    """Train the schedule's runs; each member is the mean of its branches' weights, and the model the
    members' ensemble. A single run comes back as it is, and is the only one that takes checkpoints and a
    resume. run: what trains each run, loop.run's way."""
    rank, world = world_info()
    relay = Relay(None if rank else on_event, cfg, schedule)  # only rank 0 reports, as in a run
    results, models = [], []
    one = replace(model_config, members=1)  # each run trains one model
    model = first = soup = None  # the last run's model, its member's first weights, its branches' sum
    branches_follow = schedule.branches > 0 or schedule.fill
    while (planned := schedule.next_run(cfg, results, adaptive=world == 1)) is not None:
        where, run_cfg = planned
        if not where.branch and results:  # a new member's first run: the one before is done
            models.append(_mean(model, soup, relay.branch))
        alone = dict(on_checkpoint=on_checkpoint, resume=resume) if len(schedule.runs) == 1 and not results else {}
        relay.at(where)
        model, result = run(ids, one, run_cfg, on_event=relay, should_stop=should_stop,
                            sampler=sampler, init=first if where.branch else init, **alone)
        relay.carry(result)
        results.append(result)
        weights = model.state_dict()
        if not where.branch:  # where branches may follow, they start from its weights
            first = {k: w.detach().clone() for k, w in weights.items()} if branches_follow else None
            soup = None
        elif soup is None:  # a sum in float32, not a list: two copies of the weights, whatever the branches
            soup = {k: w.detach().float().clone() for k, w in weights.items()}
        else:
            for k, w in weights.items():
                soup[k].add_(w.float())
        if result.stopped:
            break
    models.append(_mean(model, soup, relay.branch))
    if len(results) == 1:
        relay.finish(results[0])
        return model, results[0]
    model = models[0] if len(models) == 1 else Ensemble(replace(models[0].config, members=len(models)), models)
    _, val_ids = split(ids, cfg.seq_len, cfg.val_fraction, cfg.documents)
    val_lengths = split_lengths(cfg.documents, cfg.seq_len, cfg.val_fraction)[1]
    totals = {f: sum(getattr(r, f) for r in results)
              for f in ("steps", "epochs", "tokens", "seconds", "train_seconds", "sample_seconds")}
    val_loss = loop.evaluate(model, val_ids, cfg.seq_len, lengths=val_lengths)
    result = replace(results[-1], val_loss=val_loss, **totals, stopped_early=False,
                     annealed=False, val_coverage=1.0, branches=len(results) - len(models), members=len(models),
                     leftover_branches=max(0, len(results) - len(schedule.runs)))
    relay.finish(result, sampler(model) if sampler is not None and not rank else None)
    return model, result


def _mean(model: WordLSTM, soup: dict | None, branches: int) -> WordLSTM:
    """A member's model: `model`, its last run's (its `branches`-th branch), with the mean of its branches'
    weights, `soup` their sum; without branches (soup None), `model` as it is."""
    if soup is not None:
        weights = model.state_dict()
        model.load_state_dict({k: (w / branches).to(weights[k].dtype) for k, w in soup.items()})
    return model


class Relay:
    """The runs' events as one run's, the one place where progress is re-based: progress, time and steps
    carry on from the runs before; one "start", and one "done": the first run's if it is the only one, else
    after a last "val", the model's (the mean of the branches, or the members' ensemble)."""

    def __init__(self, on_event, cfg: TrainConfig, schedule: Schedule):
        self.on_event, self.runs, self.run = on_event, len(schedule.runs), 0  # planned, and trained so far
        self.member, self.branch = 0, 0  # where the run now training stands, for people
        # Where runs may end on their epochs, before the budget, progress counts runs, not the clock
        self.budget = None if any(r.epochs for r in schedule.runs) else cfg.max_seconds
        self.steps, self.seconds, self.last, self.done, self.base = 0, 0.0, None, None, 0.0

    def at(self, run: Run):
        """The next run's place: its member, and its branch in it (0: the member's first run)."""
        self.member, self.branch = run.member, run.branch

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

    def finish(self, result: TrainResult, sample: str | None = None):
        """The last events: "done", after a "val" of the model the runs made (with its `sample`) where
        there were several."""
        if self.on_event is None or self.last is None:
            return
        if not (result.branches or result.members > 1):
            self.on_event(self.done or replace(self.last, kind="done"))
            return
        end = replace(self.last, progress=self.last.progress if result.stopped else 1.0, eta=0.0,
                      val_loss=result.val_loss, sample=sample, branch=None,
                      member=None if result.members > 1 else 0)
        self.on_event(replace(end, kind="val"))
        self.on_event(replace(end, kind="done"))
