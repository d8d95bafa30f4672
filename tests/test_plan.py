"""The one planner (planning/planner.py): the app, the CLI and the bench turn the same asks into the same
plan, and a setting the user gave is used or refused the same way in all three."""
import os
import re
from dataclasses import replace

import pytest

from conftest import TINY
from test_cli import run
from wordlstm import UserError, corpus_from_text, load_corpus
from wordlstm.commands import bench
from wordlstm.commands import train as command
from wordlstm.planning.defaults import SIZES
from wordlstm.planning.planner import Ask, plan_training, settings_asked

# The sliders of the app under auto: the size's values, as the page shows them
SLIDERS = dict(seq_len=100, stride=0, embed_dim=256, hidden_size=256, num_layers=2, dropout=0.3, lr=0.01,
               batch_size=16, min_count=1, softmax="auto")


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TINY * 20)
    return path


def decided(planned):
    """What a plan decides, its estimate left out (admission may time a real step near a limit)."""
    return planned.size, planned.model, planned.train, planned.schedule, planned.why, planned.start.name


def cli_plan(*flags):
    """The CLI's plan for `flags`, as `wordlstm train` makes it before training."""
    return command.settings(command.parse_args([str(f) for f in flags]))[1]


def app_plan(corpus, **controls):
    app = pytest.importorskip("app")  # needs gradio, the app extra
    asked = app.ask(**{"epochs": 0, "max_seconds": 60, "seed": 0, **SLIDERS, **controls})
    return plan_training(corpus, asked, device="cpu", default=app.DEFAULT)


@pytest.mark.parametrize("seconds", [2, 600])  # one run, and branches on a longer budget
def test_the_cli_the_bench_and_the_app_plan_the_same_asks_alike(text, tmp_path, seconds):
    corpus = load_corpus(str(text))
    cli = cli_plan(text, "--out", tmp_path / "m", "--max-seconds", seconds, "--seed", 42, "--device", "cpu")
    ours = bench.bench_plan(corpus, seconds, "cpu", size="auto")
    assert decided(cli) == decided(ours)
    assert not (tmp_path / "m").exists()  # planning writes nothing
    app = app_plan(corpus, max_seconds=seconds, seed=42)
    assert decided(replace(app, train=replace(app.train, device="cpu"))) == decided(cli)  # the page has no device
    assert seconds < 600 or len(cli.schedule.runs) > 1
    assert cli.start.name == "the default model"  # a small text in words the novel has: auto's warm start


def test_a_shape_unlike_the_sizes_unties_its_weights_and_says_so_everywhere(text, tmp_path):
    corpus = load_corpus(str(text))
    cli = cli_plan(text, "--out", tmp_path / "m", "--size", "medium", "--embed-dim", 128)
    app = app_plan(corpus, size="medium", embed_dim=128)
    for planned in (cli, app):
        assert planned.model.embed_dim == 128 and not planned.model.tie_weights
        assert "its weights untied" in planned.why
    # Asked for by name, the tie is kept, and a shape that cannot hold it is refused with one line
    with pytest.raises(UserError, match="embed_dim == hidden_size"):
        cli_plan(text, "--out", tmp_path / "m", "--size", "medium", "--embed-dim", 128, "--tie-weights")


def test_a_control_left_at_its_default_asks_for_nothing():
    assert settings_asked({"embed_dim": 256, "hidden_size": 256, "lr": 0.01, "seed": 0}, "medium") == {}
    assert settings_asked({"embed_dim": 128, "lr": 0.01}, "medium") == {"embed_dim": 128}
    assert settings_asked({"batch_size": 16}, "small") == {"batch_size": 16}  # the book's is 32
    assert SIZES["medium"]["batch_size"] == 16


def test_the_plan_holds_the_schedule_and_says_it(text):
    corpus = corpus_from_text(TINY * 20)
    planned = plan_training(corpus, Ask(max_seconds=600, members=2, branches=1), device="cpu")
    assert [(r.member, r.branch) for r in planned.schedule.runs] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r.seed for r in planned.schedule.runs] == [0, 1, 2, 3] and planned.train.max_seconds == 600
    lines = planned.describe().splitlines()
    assert lines[0].startswith("About ") and "as asked" in lines[1]
    assert lines[2:6] == [f"run {i + 1}: model {m + 1}, {'first run' if not b else 'branch 1'}, seed {i}, 150 s"
                          for i, (m, b) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)])]
    assert lines[-1].startswith("then, while runs that end early leave time")


@pytest.mark.slow
def test_train_dry_run_prints_the_plan_and_trains_nothing(text, tmp_path):
    r = run("train.py", text, "--out", tmp_path / "m", "--max-seconds", 600, "--branches", 2, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "run 1: model 1, first run, seed 0, 200 s" in r.stdout and "run 3: model 1, branch 2" in r.stdout
    assert "with 2 branches, as asked" in r.stdout and not os.path.exists(tmp_path / "m")


def test_the_estimate_and_autos_line_count_the_same_epochs():
    """Runs that share a budget: the estimate counts the epochs it holds in all, as auto's line does (it gave
    one run's share, 2.9, beside auto's 10); and the limits' line keeps its units' case ("16 GB")."""
    corpus = load_corpus(os.path.join(os.path.dirname(__file__), "..", "data", "anna.txt"))
    for seconds in (300, 1800):  # branches; an ensemble of models with branches
        planned = plan_training(corpus, Ask("auto", max_seconds=seconds), device="cpu", time_scale=1.0)
        assert len(planned.schedule.runs) > 1
        counts = [re.search(r"about ([\d.]+) epochs", line).group(1) for line in (planned.summary(), planned.why)]
        assert counts[0] == counts[1]
        assert f"in all, shared by its {len(planned.schedule.runs)} runs" in planned.summary()
    app = pytest.importorskip("app")
    line = app.estimate(0, 60, 0, **SLIDERS, start_from="auto", session=app.new_session())
    assert re.search(r"\d+ [MG]B of memory", line) and " gb" not in line and " mb" not in line
