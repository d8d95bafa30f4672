"""`--size auto`, the default: the size and the schedule that make the most of a time budget, from the
device, the text's size and the budget.

The rule counts how many epochs of the text the budget holds (plan()'s estimate for the device, with
Zipf's law for the words' frequencies, corrected on a CPU by one real training step) and cuts them
into runs: one run of the medium size on a text of a few hundred thousand tokens is at its best after
a few epochs, so more time buys branches (training/schedule.py), then models trained apart.
The figures behind each constant are in docs/recipe.md, under the section its comment names (#branches).
"""
import functools
from dataclasses import dataclass

from ..errors import count
from ..training.device import world_info
from ..training.schedule import MAX_BRANCHES
from .cost import plan, probe
from .defaults import AUTO, AUTO_SIZE, configs, size_settings

RUN_EPOCHS = 3.0  # a run's share of the budget: a run gets about its best in this many epochs (#branches)
MAX_PLANNED = 4  # branches planned from the start: the most that gained (#branches)
LONGEST_RUN = 6  # a run of more epochs only overfits: a long budget gets more runs, not longer ones (#long-budgets)
MEMBERS, MEMBER_EPOCHS = 2, 8  # two models, once each gets 8 epochs, beat one trained twice as long (#ensembles)
MAX_MEMBERS = 4  # more models where two would leave time unused; each costs its share of generation (#ensembles)
FULL_MODEL = (MAX_BRANCHES + 1) * LONGEST_RUN  # the most epochs one model's runs use


@dataclass(frozen=True)
class Choice:
    size: str  # a name in defaults.SIZES
    why: str  # one line for people; "" where the user named the size
    members: int = 1  # models trained apart, as an ensemble
    branches: int = 0  # each model's, after its first run
    run_epochs: int | None = None  # the most epochs a run trains (a long budget's)
    fill: bool = False  # time that runs ending early leave trains more branches
    time_scale: float = 1.0  # this machine's step time over plan()'s, as the rule counted epochs with it


def rule(fits: float, members: int | None = None) -> tuple[int, int, int | None]:
    """(models, branches each, most epochs per run) for a budget that holds `fits` epochs of the text;
    `members`, if given, the user's."""
    if members is None:
        members = 1 if fits < MEMBERS * MEMBER_EPOCHS else min(MAX_MEMBERS, max(MEMBERS, round(fits / FULL_MODEL)))
    each = fits / members  # the epochs each model's share holds
    branches = min(MAX_PLANNED, max(0, round(each / RUN_EPOCHS) - 1))
    if each > (branches + 1) * LONGEST_RUN:  # more than those runs can use: runs of LONGEST_RUN, more of them
        return members, min(MAX_BRANCHES, round(each / LONGEST_RUN) - 1), LONGEST_RUN
    return members, branches, None


def choose(size: str, *, tokens: int, vocab_size: int, max_seconds: float | None = None, epochs: int | None = None,
           device: str = "cpu", branches: int | None = None, members: int | None = None,
           time_scale: float | None = None, word_counts=None) -> Choice:
    """What to train a text of `tokens` tokens and `vocab_size` words with: `size` as asked, or for "auto"
    the rule above. `branches` and `members`, if given, are the user's and stay (the user's branches alone
    mean one model); so do `epochs`, which then bound each run (auto then trains one). `device`: a torch
    device's name, not "auto". time_scale: this machine's step time over plan()'s; None: measured, where
    the rule needs it (`measured_scale`). word_counts: the vocabulary's, as the plan's estimate reads them
    (its epochs are then the plan's)."""
    if size != AUTO:
        return Choice(size, "", members=members or 1, branches=branches or 0)
    asked, fits, run_epochs = branches is not None or members is not None, 0.0, None
    if max_seconds and not epochs:
        model_cfg, cfg = configs(AUTO_SIZE, vocab_size, max_seconds=max_seconds, epochs=None)
        if time_scale is None:  # the user's branches need no estimate
            time_scale = measured_scale(vocab_size, device) if branches is None else 1.0
        fits = max_seconds / plan(tokens, model_cfg, cfg, device, word_counts, time_scale).seconds_per_epoch
        if branches is None:
            members, branches, run_epochs = rule(fits, members)
    members, branches = members or 1, branches or 0
    why = _why(members, branches, run_epochs, fits, max_seconds=max_seconds, epochs=epochs, device=device, asked=asked)
    return Choice(AUTO_SIZE, why, members=members, branches=branches, run_epochs=run_epochs, fill=True,
                  time_scale=time_scale or 1.0)


def _why(members: int, n: int, run_epochs: int | None, fits: float, *, max_seconds, epochs, device, asked) -> str:
    """auto's choice in one line, for people."""
    shape = size_settings(AUTO_SIZE)
    what = f"auto: the {AUTO_SIZE} size ({shape['num_layers']}x{shape['hidden_size']})"
    runs = count(n, "branch", "branches") + (f" of at most {run_epochs} epochs" if run_epochs else "")
    if members > 1:
        runs = f"an ensemble of {members} models trained apart, each " + (f"with {runs}" if n else "one run")
    else:
        runs = (f"with {runs}" + (" each" if run_epochs else "")) if n else "one run"
    if asked:
        return f"{what}, {runs}, as asked"
    if epochs:
        return f"{what}, one run of the {count(epochs, 'epoch')} asked for"
    if not max_seconds:
        return f"{what}, one run: without a time budget there is nothing to share out"
    if not (run_epochs or n):
        return f"{what}, one run: about {fits:.1f} epochs of this text fit in {max_seconds:g} s on {device}"
    why = (f"{what}, {runs}: about {fits:.0f} epochs of this text fit in {max_seconds:g} s on {device}, "
           + ("and a run overfits after a few" if run_epochs else "where one run is at its best after a few"))
    if members > 1:
        why += ", and models from different starts gain where one stops"
    if run_epochs and members * (n + 1) * run_epochs < 0.8 * fits:  # said where a fifth or more is left
        why += "; it ends when they are done, before the budget"  # (fits is an estimate)
    return why


@functools.lru_cache(maxsize=8)
def measured_scale(vocab_size: int, device: str = "cpu") -> float:
    """The auto size's training step on this machine, measured (probe(), at the real batch), over plan()'s
    estimate: plan()'s CPU rate is one machine's, and a CPU with AMX trains the medium size about three
    times faster than it says (docs/recipe.md#auto). Measured once per vocabulary size and process, so
    a machine busy at that moment (another training on a shared server) is taken as slow as it then is: it
    errs towards fewer branches. 1.0 on a GPU (ZeroGPU's main process has none to time) and under DDP, whose
    processes must agree on the branches."""
    if device != "cpu" or world_info()[1] > 1:
        return 1.0
    model_cfg, cfg = configs(AUTO_SIZE, vocab_size)  # its batch, window and precision
    return probe(model_cfg, cfg, device, batch=cfg.batch_size, seq_len=cfg.seq_len)
