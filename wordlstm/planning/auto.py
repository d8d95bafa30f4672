"""`--size auto`, the default: the size and the branches that make the most of a time budget, from the
device, the text's size and the budget.

What the rule rests on (docs/recipe.md, "Sizes" and "Branches"), measured on the three texts of
`../shared/corpora` (220K to 440K tokens):
- the medium size beats the book's small one at every budget tried, from 60 s on a 2-core CPU up;
- one run of it on such a text is at its best after a few epochs, whatever the budget; so where the
  budget holds many more, it is cut into a first run and branches from its best weights, whose mean
  turns the rest of the time into a better model (branches.py).
How many epochs a budget holds is plan()'s estimate for the device (with Zipf's law for the words'
frequencies, so that the choice depends on the text's size alone): a GPU, which runs many more, gets
more branches, and a text too large for a few epochs in the budget gets one run. On a CPU, whose speed
varies threefold between the machines measured, the estimate is corrected by a real training step
(`measured_scale`). A budget that holds more epochs than the branches can use gets runs of LONGEST_RUN
epochs, more of them, and may end before its time: more only overfits. A budget that holds MEMBERS
times MEMBER_EPOCHS epochs or more trains MEMBERS models apart, each its first run and branches on its
share, as an ensemble: two such models beat one trained twice as long, and a budget longer than two
models' runs use trains more, up to MAX_MEMBERS (docs/recipe.md, "Ensembles").
"""
import functools
from dataclasses import dataclass

from ..training.branches import MAX_BRANCHES
from ..training.device import world_info
from .cost import plan, probe
from .defaults import AUTO, AUTO_SIZE, configs, size_settings

# The epochs each run's share of the budget holds, about (the nearest number of runs): at 60 s on an AMX
# Xeon, where 6, 10 and 12 epochs fit, the best of 0 to 4 branches was 1, 2 and 2 to 4 (docs/recipe.md).
RUN_EPOCHS = 3.0
MAX_PLANNED = 4  # branches: the most measured; where runs end early, branches.py trains more
# Where even MAX_PLANNED branches would give each run more epochs than this, the runs are cut to it and
# there are more of them, up to branches.MAX_BRANCHES; what is left of the budget then goes unused, since
# nothing tried gained from it. On tinyshakespeare with 1,800 s, 8 branches of 4 / 6 / 10 epochs gave
# 126.0 / 125.5 / 127.4, and runs of the budget's share 138.6: they end on patience with their rate still
# high (docs/recipe.md, "Long budgets").
LONGEST_RUN = 6
# Where the budget holds MEMBER_EPOCHS epochs for each of MEMBERS models, auto trains them apart, as an
# ensemble. At 300 s on a Xeon with AMX, two models of 150 s (11, 17 and 18 epochs each) against one of
# 300 s, the same session: anna.txt 65.4 against 67.0, tinyshakespeare 121.8 against 128.4,
# wikitext-2/valid 195.8 against 201.6; four of 75 s gave 121.5, at twice two's cost in generation, so two
# (docs/recipe.md, "Ensembles"). The fewest epochs measured that still gained was 9 each (anna.txt on a
# slower day: 65.1 against 67.6), so 8: a threshold near a text's 300 s would flip with the machine's speed.
MEMBERS, MEMBER_EPOCHS = 2, 8
# Where the budget holds more than two models' runs use (up to MAX_BRANCHES + 1 runs of LONGEST_RUN epochs
# each), more models, one per FULL_MODEL epochs up to MAX_MEMBERS, rather than time left unused: at 1,800 s
# on tinyshakespeare (about 190 epochs on the Xeon), four models of 7 branches gave 120.0, where the first
# two of them gave 122.7, and two models alone, ending at half the budget, 121.8 (docs/recipe.md,
# "Ensembles"). Each model costs its share of generation: four write at about a quarter of one model's speed.
MAX_MEMBERS = 4
FULL_MODEL = (MAX_BRANCHES + 1) * LONGEST_RUN  # the most epochs one model's runs use


@dataclass(frozen=True)
class Choice:
    size: str  # a name in defaults.SIZES
    branches: int
    why: str  # one line for people; "" where the user named the size
    fill_budget: bool = False  # auto's: time that runs ending early leave trains more branches
    run_epochs: int | None = None  # auto's, for a long budget: the most epochs a run trains
    members: int = 1  # auto's, for a long budget: models trained apart, as an ensemble

    @property
    def settings(self) -> dict:
        """The training settings chosen, by TrainConfig's names."""
        return {"branches": self.branches, "fill_budget": self.fill_budget, "run_epochs": self.run_epochs,
                "members": self.members}


def choose(size: str, *, tokens: int, vocab_size: int, max_seconds: float | None = None, epochs: int | None = None,
           device: str = "cpu", branches: int | None = None, members: int | None = None,
           time_scale: float | None = None) -> Choice:
    """What to train a text of `tokens` tokens and `vocab_size` words with: `size` as asked, or for "auto"
    the rule above. `branches` and `members`, if given, are the user's and stay (the user's branches alone
    mean one model); so do `epochs`, which then bound each run (auto then trains one). `device`: a torch
    device's name, not "auto". time_scale: this machine's step time over plan()'s; None: measured, where
    the rule needs it (`measured_scale`)."""
    if size != AUTO:
        return Choice(size, branches or 0, "", members=members or 1)
    fits = planned = 0
    run_epochs = None
    asked = branches is not None or members is not None
    if max_seconds and not epochs:
        model_cfg, cfg = configs(AUTO_SIZE, vocab_size, max_seconds=max_seconds, epochs=None)
        if time_scale is None:  # the user's branches need no estimate
            time_scale = measured_scale(vocab_size, device) if branches is None else 1.0
        fits = max_seconds / plan(tokens, model_cfg, cfg, device, time_scale=time_scale).seconds_per_epoch
        if members is None:
            members = 1 if branches is not None or fits < MEMBERS * MEMBER_EPOCHS else \
                min(MAX_MEMBERS, max(MEMBERS, round(fits / FULL_MODEL)))
        each = fits / members  # the epochs each model's share holds
        planned = min(MAX_PLANNED, max(0, round(each / RUN_EPOCHS) - 1))
        if branches is None and each > (planned + 1) * LONGEST_RUN:
            planned, run_epochs = min(MAX_BRANCHES, round(each / LONGEST_RUN) - 1), LONGEST_RUN
    shape = size_settings(AUTO_SIZE)
    what = f"auto: the {AUTO_SIZE} size ({shape['num_layers']}x{shape['hidden_size']})"
    members, n = members or 1, planned if branches is None else branches
    runs = f"{_count(n, 'branch', 'branches')}" + (f" of at most {run_epochs} epochs" if run_epochs else "")
    if members > 1:
        runs = f"an ensemble of {members} models trained apart, each " + (f"with {runs}" if n else "one run")
    else:
        runs = (f"with {runs}" + (" each" if run_epochs else "")) if n else "one run"
    if asked:
        why = f"{what}, {runs}, as asked"
    elif epochs:
        why = f"{what}, one run of the {_count(epochs, 'epoch', 'epochs')} asked for"
    elif not max_seconds:
        why = f"{what}, one run: without a time budget there is nothing to share out"
    elif run_epochs or planned:
        why = (f"{what}, {runs}: about {fits:.0f} epochs of this text fit in {max_seconds:g} s on {device}, "
               + ("and a run overfits after a few" if run_epochs else "where one run is at its best after a few"))
        if members > 1:
            why += ", and models from different starts gain where one stops"
        if run_epochs and members * (planned + 1) * run_epochs < 0.8 * fits:  # said where a fifth or more is left
            why += "; it ends when they are done, before the budget"  # (fits is an estimate)
    else:
        why = f"{what}, one run: about {fits:.1f} epochs of this text fit in {max_seconds:g} s on {device}"
    return Choice(AUTO_SIZE, n, why, fill_budget=True, run_epochs=run_epochs, members=members)


@functools.lru_cache(maxsize=8)
def measured_scale(vocab_size: int, device: str = "cpu") -> float:
    """The auto size's training step on this machine, measured (probe(), at the real batch), over plan()'s
    estimate: plan()'s CPU rate is one machine's, and a CPU with AMX trains the medium size about three
    times faster than it says (docs/recipe.md, "Sizes"). Measured once per vocabulary size and process, so
    a machine busy at that moment (another training on a shared server) is taken as slow as it then is: it
    errs towards fewer branches. 1.0 on a GPU (ZeroGPU's main process has none to time) and under DDP, whose
    processes must agree on the branches."""
    if device != "cpu" or world_info()[1] > 1:
        return 1.0
    model_cfg, cfg = configs(AUTO_SIZE, vocab_size)  # its batch, window and precision
    return probe(model_cfg, cfg, device, batch=cfg.batch_size, seq_len=cfg.seq_len)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
