"""The one place a training is decided: what the user asked for in, everything a training needs out.

The app, the CLI and the benchmark each turn their controls or flags into an `Ask`, and call
`plan_training`; nothing else assembles configs. A setting the user gave by name is used, or refused
with one line (a UserError), the same way for all three.
"""
from dataclasses import dataclass, field, fields, replace

from ..errors import capital, count
from ..model.lstm import ModelConfig
from ..share.warmstart import Transfer, warm_start
from ..text.data import Corpus
from ..training.config import TrainConfig
from ..training.schedule import Schedule
from .auto import choose
from .cost import Plan, plan
from .defaults import AUTO, configs, size_settings, tied
from .limits import Admission
from .start import Start, choose_start


@dataclass(frozen=True)
class Ask:
    """What the user asked for. None: the size's (or auto's) choice."""
    size: str = AUTO
    epochs: int | None = None  # None: as many as the time budget allows
    max_seconds: float | None = None  # None: no time budget (then epochs bound the training)
    branches: int | None = None
    members: int | None = None
    settings: dict = field(default_factory=dict)  # ModelConfig's and TrainConfig's settings, by name
    min_count: int | None = None  # the vocabulary's, where it differs from the corpus's
    start: str = AUTO  # "auto": auto's rule (planning/start.py); "new"; or the name of the model given to start from

    @classmethod
    def from_form(cls, size: str, *, epochs, max_seconds, branches="auto", members="auto", min_count=None,
                  start=AUTO, **controls) -> "Ask":
        """A form's values (the app's page): 0 epochs or seconds for none, "auto" in a menu for the planner's
        choice, and each control (a setting by name) asking for its value only where it is not the size's."""
        def picked(choice) -> int | None:
            return None if str(choice) in ("auto", "", "None") else int(choice)
        return cls(size, epochs=int(epochs or 0) or None, max_seconds=float(max_seconds or 0) or None,
                   branches=picked(branches), members=picked(members), settings=settings_asked(controls, size),
                   min_count=min_count and int(min_count), start=start)


@dataclass
class TrainingPlan:
    """Everything a training needs: train(corpus.ids, plan.model, plan.train, schedule=plan.schedule,
    init=plan.init and plan.init.state)."""
    size: str  # a name in defaults.SIZES: the user's, or auto's choice
    model: ModelConfig
    train: TrainConfig  # how one run trains; its max_seconds is the whole budget, capped by the limits
    schedule: Schedule  # how the budget is spent: the runs, and the rule for time left over
    cost: Plan  # the estimate: memory, time per epoch
    why: str  # one line for people: what auto chose and why, a warm start, a capped budget ("" for none)
    init: Transfer | None = None  # a warm start's weights, and what they share with the text
    start: Start = Start(None, "a new model")  # where it starts, and why

    def ends(self) -> str:
        """Which bound will end the training, for people; for runs that share a budget, the epochs it holds
        in all (the count auto's line gives too), not one run's share of them."""
        budget, runs = self.train.max_seconds, len(self.schedule.runs)
        share, epochs = self.schedule.run_seconds(budget), self.schedule.runs[0].epochs
        one = self.cost.ends(share, epochs)
        if runs == 1 or not budget or self.cost.by_epochs(share, epochs):
            return one if runs == 1 else f"{one} for each of its {runs} runs"
        return (f"the time budget will end it, after about {budget / self.cost.seconds_per_epoch:.0f} epochs "
                f"in all, shared by its {count(runs, 'run')}")

    def summary(self) -> str:
        """The estimate in one line: memory, time, and which bound ends a run."""
        return f"{self.cost.summary()}; {self.ends()}"

    def describe(self) -> str:
        """The plan for people: the estimate, why, and the schedule's runs (`wordlstm train --dry-run`)."""
        lines = [sentence(self.summary())] + ([sentence(self.why)] if self.why else [])
        return "\n".join(lines + self.schedule.describe(self.train.max_seconds))


def sentence(text: str) -> str:
    """`text` as a sentence: its first letter a capital (the rest as it is, units included), a full stop."""
    return capital(text) + "."


def plan_training(corpus: Corpus, ask: Ask, *, device: str = "cpu", admission: Admission | None = None,
                  source=None, default=None, time_scale: float | None = None) -> TrainingPlan:
    """The training of `corpus` that `ask` describes, on `device` (a torch device's name). admission: the
    server's limits, which cap the budget and refuse what does not fit (UserError); None: estimate only.
    source: the checkpoint the user gave to start from, named by ask.start (a warm start: its shape replaces
    the size's); default: the default model (start.default_model()), which auto may start from."""
    Schedule.check(ask.members, ask.branches)  # before auto counts epochs per model
    vocab_size = corpus.vocab_size_at(ask.min_count) if ask.min_count else len(corpus.vocab)
    given = dict(ask.settings)
    choice = choose(ask.size, tokens=len(corpus.ids), vocab_size=vocab_size, max_seconds=ask.max_seconds,
                    epochs=ask.epochs, device=device, branches=ask.branches, members=ask.members,
                    time_scale=time_scale, word_counts=corpus.vocab.counts if vocab_size == len(corpus.vocab) else None)
    notes = [choice.why, corpus.lines.why if corpus.lines.keep else ""]  # prose, the default, goes unsaid
    if "tie_weights" not in given:  # a size's tie holds while the shape asked for allows it
        given["tie_weights"] = tied(choice.size, given)
        if not given["tie_weights"] and tied(choice.size, {}):
            notes.append("its weights untied: the embedding size asked for is not the hidden size")
    model_cfg, cfg = configs(choice.size, vocab_size, **given, epochs=ask.epochs, max_seconds=ask.max_seconds,
                             documents=corpus.documents)
    start, init = choose_start(corpus, ask.start, source, default, shape_asked(ask.size, ask.settings)), None
    if start.source is not None:
        model_cfg, init = warm_start(start.source, model_cfg, corpus.vocab, ask.settings)
        notes.append(start.why or f"it starts from {start.name}, in its shape ({model_cfg.num_layers}x"
                     f"{model_cfg.hidden_size}): it knows {init.coverage:.0%} of your text's words")
    elif start.why:
        notes.append(start.why)
    schedule = Schedule.of(cfg, choice.members, choice.branches, choice.run_epochs, choice.fill)
    planned = plan_runs(corpus, model_cfg, cfg, schedule, device=device, admission=admission, size=choice.size,
                        time_scale=choice.time_scale)
    return replace(planned, why="; ".join(filter(None, [*notes, planned.why])), init=init, start=start)


def plan_runs(corpus: Corpus, model_cfg: ModelConfig, cfg: TrainConfig, schedule: Schedule, *, device: str = "cpu",
              admission: Admission | None = None, size: str = "", time_scale: float = 1.0) -> TrainingPlan:
    """The plan of runs whose settings are decided (plan_training's, or a resumed run's as recorded): their
    cost, and with `admission` the budget capped at the limits, or a UserError where they do not fit.
    time_scale: this machine's step time over plan()'s, where auto measured it (its epochs are the plan's)."""
    if admission is None:
        counts = corpus.vocab.counts if model_cfg.vocab_size == len(corpus.vocab) else None
        cost = plan(len(corpus.ids), model_cfg, cfg, device, counts, time_scale)
        return TrainingPlan(size, model_cfg, cfg, schedule, cost, "")
    capped, cost = admission.admit(corpus, model_cfg, cfg, runs=len(schedule.runs), time_scale=time_scale)
    why = "" if capped.max_seconds == cfg.max_seconds else \
        f"the time budget is capped at {capped.max_seconds:.0f} s, {admission.limits.place}'s limit"
    return TrainingPlan(size, model_cfg, capped, schedule, cost, why)


def shape_asked(size: str, settings: dict) -> dict:
    """The model shape a user asked for: a named size's (none for auto's), and the settings given by name."""
    return {**(size_settings(size) if size != AUTO else {}), **settings}


def settings_asked(controls: dict, size: str) -> dict:
    """The settings among a page's `controls` (each setting's current value) that differ from `size`'s: what
    the user changed. A control left at its default asks for nothing, as a flag not given."""
    base = {**{f.name: f.default for cls in (ModelConfig, TrainConfig) for f in fields(cls)}, **size_settings(size)}
    return {name: value for name, value in controls.items() if value != base.get(name)}
