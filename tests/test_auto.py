"""--size auto: the size and the schedule from the device, the text's size and the budget (planning/auto.py)."""
import math

from wordlstm import plan
from wordlstm.planning import auto
from wordlstm.planning.auto import (FULL_MODEL, LONGEST_RUN, MAX_MEMBERS, MAX_PLANNED, MEMBER_EPOCHS, MEMBERS,
                                    RUN_EPOCHS, Choice, choose, measured_scale)
from wordlstm.planning.defaults import AUTO, AUTO_SIZE, SIZES, configs, size_settings
from wordlstm.training.config import TrainConfig
from wordlstm.training.schedule import MAX_BRANCHES, Schedule

# anna.txt's size, on a machine as fast as plan() says: the rule's arithmetic, not this machine's speed
NOVEL = dict(tokens=437_098, vocab_size=12_778, time_scale=1.0)


def epochs_in(seconds, tokens=NOVEL["tokens"], device="cpu"):
    model_cfg, cfg = configs(AUTO_SIZE, NOVEL["vocab_size"], max_seconds=seconds, epochs=None)
    return seconds / plan(tokens, model_cfg, cfg, device).seconds_per_epoch


def test_a_named_size_is_taken_as_it_is():
    assert choose("small", **NOVEL, max_seconds=300) == Choice("small", "")
    assert choose("medium", **NOVEL, max_seconds=300, branches=2) == Choice("medium", "", branches=2)
    assert not choose("large", **NOVEL, max_seconds=300).fill


def test_auto_trains_the_medium_size_and_fills_the_budget():
    choice = choose(AUTO, **NOVEL, max_seconds=60)
    assert choice.size == AUTO_SIZE in SIZES and choice.fill
    assert size_settings(AUTO) == size_settings(AUTO_SIZE)  # what the app's sliders show under auto
    assert choice.why.startswith("auto: the medium size (2x256)")


def test_branches_grow_with_the_epochs_the_budget_holds():
    budgets = [10, 60, 300, 1200, 3000, 10_000, 100_000]
    choices = [choose(AUTO, **NOVEL, max_seconds=s) for s in budgets]
    branches = [c.branches for c in choices]
    assert branches == sorted(branches) and branches[0] == 0 and branches[-1] == MAX_BRANCHES
    assert not choices[1].run_epochs and choices[-1].run_epochs == LONGEST_RUN  # both rules are exercised
    for seconds, c in zip(budgets, choices):
        fits, k = epochs_in(seconds), c.branches
        # Two models trained apart where the budget holds enough for each, more where two would leave time
        # unused; each model's share is ruled alike
        if fits < MEMBERS * MEMBER_EPOCHS:
            assert c.members == 1
        else:
            # one model per FULL_MODEL epochs, to the nearest, from MEMBERS up to MAX_MEMBERS
            assert abs(fits / FULL_MODEL - c.members) <= 0.5 or (c.members == MEMBERS and fits < MEMBERS * FULL_MODEL) \
                or (c.members == MAX_MEMBERS and fits > MAX_MEMBERS * FULL_MODEL)
        assert ("an ensemble of" in c.why) == (c.members > 1)
        fits /= c.members
        if c.run_epochs is None:  # each run's share holds about RUN_EPOCHS epochs, up to the most measured
            runs = fits / RUN_EPOCHS  # as many runs as that makes, to the nearest
            assert k == 0 and runs < 1.5 or k == MAX_PLANNED and runs >= MAX_PLANNED + 0.5 or abs(runs - (k + 1)) <= 0.5
            assert fits <= (k + 1) * LONGEST_RUN  # no run's share holds more than the longest useful run
        else:  # a long budget: runs of LONGEST_RUN epochs, as many as it holds, up to MAX_BRANCHES
            assert c.run_epochs == LONGEST_RUN and fits > (MAX_PLANNED + 1) * LONGEST_RUN
            assert k == MAX_BRANCHES or abs(fits / LONGEST_RUN - (k + 1)) <= 0.5
            assert f"of at most {LONGEST_RUN} epochs" in c.why
            assert ("before the budget" in c.why) == ((k + 1) * LONGEST_RUN < 0.8 * fits)  # said where it will
    members = [c.members for c in choices]
    assert members == sorted(members) and members[:2] == [1, 1] and MEMBERS in members  # each way exercised
    assert members[-1] == MAX_MEMBERS


def test_runs_cut_to_the_longest_useful_one_leave_the_rest_of_a_long_budget():
    long = choose(AUTO, **NOVEL, max_seconds=100_000)
    runs = Schedule.of(TrainConfig(max_seconds=100_000, epochs=None), long.members, long.branches, long.run_epochs).runs
    assert len(runs) == MAX_MEMBERS * (MAX_BRANCHES + 1) and {r.epochs for r in runs} == {LONGEST_RUN}
    assert sum(c.epochs for c in runs) < epochs_in(100_000) / 2  # most of the budget goes unused, as said
    assert long.why.endswith("; it ends when they are done, before the budget")
    # The user's branches or epochs are theirs: no cut
    assert choose(AUTO, **NOVEL, max_seconds=100_000, branches=2).run_epochs is None
    assert choose(AUTO, **NOVEL, max_seconds=100_000, epochs=50).run_epochs is None


def test_a_larger_text_or_a_gpu_changes_the_choice():
    novel = choose(AUTO, **NOVEL, max_seconds=600)
    assert novel.branches > 0 and "epochs of this text fit in 600 s on cpu" in novel.why
    big = choose(AUTO, **{**NOVEL, "tokens": 100 * NOVEL["tokens"]}, max_seconds=600)
    assert big.branches == 0 and "one run" in big.why  # a fraction of an epoch: one run improves throughout
    gpu = choose(AUTO, **NOVEL, max_seconds=60, device="cuda")
    assert gpu.branches > choose(AUTO, **NOVEL, max_seconds=60).branches and "on cuda" in gpu.why


def test_what_the_user_asked_for_stays_and_the_line_says_so():
    assert choose(AUTO, **NOVEL, max_seconds=300, branches=0) == Choice(
        AUTO_SIZE, "auto: the medium size (2x256), one run, as asked", fill=True)
    assert choose(AUTO, **NOVEL, max_seconds=300, branches=1).why.endswith("with 1 branch, as asked")
    epochs = choose(AUTO, **NOVEL, max_seconds=300, epochs=3)
    assert epochs.branches == 0 and epochs.why.endswith("one run of the 3 epochs asked for")
    assert choose(AUTO, **NOVEL).why.endswith("without a time budget there is nothing to share out")
    # One model, whatever the budget, where the user names the branches; their members stay too
    assert choose(AUTO, **NOVEL, max_seconds=100_000, branches=2).members == 1
    one = choose(AUTO, **NOVEL, max_seconds=100_000, members=1)
    assert one.members == 1 and one.branches == MAX_BRANCHES and one.why.startswith(
        f"auto: the medium size (2x256), with {MAX_BRANCHES} branches of at most {LONGEST_RUN} epochs each, as asked")
    three = choose(AUTO, **NOVEL, max_seconds=300, members=3, branches=1)
    assert (three.members, three.branches) == (3, 1) and three.why.endswith(
        "an ensemble of 3 models trained apart, each with 1 branch, as asked")
    assert choose("medium", **NOVEL, max_seconds=300, members=2).members == 2


def test_a_faster_machine_fits_more_epochs_and_gets_more_branches():
    plain = choose(AUTO, **NOVEL, max_seconds=300)
    fast = choose(AUTO, **{**NOVEL, "time_scale": 0.3}, max_seconds=300)  # a step 0.3 of plan()'s, as with AMX
    assert fast.branches > plain.branches
    assert f"about {epochs_in(300) / 0.3:.0f} epochs of this text fit in 300 s" in fast.why


def test_the_scale_is_measured_where_the_rule_needs_it(monkeypatch):
    asked = []
    monkeypatch.setattr(auto, "measured_scale", lambda v, d: asked.append((v, d)) or 0.3)
    novel = {k: v for k, v in NOVEL.items() if k != "time_scale"}
    assert choose(AUTO, **novel, max_seconds=60) == choose(AUTO, **{**NOVEL, "time_scale": 0.3}, max_seconds=60)
    assert asked == [(NOVEL["vocab_size"], "cpu")]
    choose(AUTO, **novel, max_seconds=60, branches=2)  # the user's branches: nothing to decide
    choose(AUTO, **novel, max_seconds=60, epochs=3)  # epochs bound the run: one run
    choose("small", **novel, max_seconds=60)
    assert len(asked) == 1


def test_the_measured_scale_is_a_real_step_on_the_cpu_and_none_on_a_gpu():
    measured_scale.cache_clear()
    scale = measured_scale(500)
    # How fast is this machine's (and how busy it is), so only what it is: a finite time, measured once
    assert 0 < scale < math.inf and measured_scale(500) is scale
    assert measured_scale(500, "cuda") == 1.0  # not timed: ZeroGPU's main process has no GPU
