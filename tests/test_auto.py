"""--size auto: the size and branches from the device, the text's size and the budget (wordlstm/auto.py)."""
from wordlstm import plan
from wordlstm.auto import MAX_PLANNED, RUN_EPOCHS, Choice, choose
from wordlstm.defaults import AUTO, AUTO_SIZE, SIZES, configs, size_settings

NOVEL = dict(tokens=437_098, vocab_size=12_778)  # anna.txt's size


def epochs_in(seconds, tokens=NOVEL["tokens"], device="cpu"):
    model_cfg, cfg = configs(AUTO_SIZE, NOVEL["vocab_size"], max_seconds=seconds, epochs=None)
    return seconds / plan(tokens, model_cfg, cfg, device).seconds_per_epoch


def test_a_named_size_is_taken_as_it_is():
    assert choose("small", **NOVEL, max_seconds=300) == Choice("small", 0, "")
    assert choose("medium", **NOVEL, max_seconds=300, branches=2) == Choice("medium", 2, "")
    assert not choose("large", **NOVEL, max_seconds=300).settings["fill_budget"]


def test_auto_trains_the_medium_size_and_fills_the_budget():
    choice = choose(AUTO, **NOVEL, max_seconds=60)
    assert choice.size == AUTO_SIZE in SIZES and choice.settings["fill_budget"]
    assert size_settings(AUTO) == size_settings(AUTO_SIZE)  # what the app's sliders show under auto
    assert choice.why.startswith("auto: the medium size (2x256)")


def test_branches_grow_with_the_epochs_the_budget_holds_up_to_the_most_measured():
    budgets = [10, 60, 300, 1200, 10_000]
    branches = [choose(AUTO, **NOVEL, max_seconds=s).branches for s in budgets]
    assert branches == sorted(branches) and branches[0] == 0 and branches[-1] == MAX_PLANNED
    for seconds, k in zip(budgets, branches):  # each run's share holds at least RUN_EPOCHS epochs
        assert k == 0 or epochs_in(seconds) / (k + 1) >= RUN_EPOCHS
        assert k == MAX_PLANNED or epochs_in(seconds) / (k + 2) < RUN_EPOCHS


def test_a_larger_text_or_a_gpu_changes_the_choice():
    novel = choose(AUTO, **NOVEL, max_seconds=300)
    assert novel.branches > 0 and "epochs of this text fit in 300 s on cpu" in novel.why
    big = choose(AUTO, tokens=100 * NOVEL["tokens"], vocab_size=NOVEL["vocab_size"], max_seconds=300)
    assert big.branches == 0 and "one run" in big.why  # a fraction of an epoch: one run improves throughout
    gpu = choose(AUTO, **NOVEL, max_seconds=60, device="cuda")
    assert gpu.branches > choose(AUTO, **NOVEL, max_seconds=60).branches and "on cuda" in gpu.why


def test_what_the_user_asked_for_stays_and_the_line_says_so():
    assert choose(AUTO, **NOVEL, max_seconds=300, branches=0) == Choice(
        AUTO_SIZE, 0, "auto: the medium size (2x256), one run, as asked", fill_budget=True)
    assert choose(AUTO, **NOVEL, max_seconds=300, branches=1).why.endswith("with 1 branch, as asked")
    epochs = choose(AUTO, **NOVEL, max_seconds=300, epochs=3)
    assert epochs.branches == 0 and epochs.why.endswith("one run of the 3 epochs asked for")
    assert choose(AUTO, **NOVEL).why.endswith("without a time budget there is nothing to share out")
