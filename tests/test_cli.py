"""The scripts end to end, as a user runs them: exit codes, stdout, one-line errors."""
import json
import os
import subprocess
import re
import sys
import zipfile

import pytest

from conftest import ROOT, TINY
from wordlstm import SIZES, TrainConfig, commands
from wordlstm.commands import COMMANDS
from wordlstm.planning.auto import LONGEST_RUN, MAX_MEMBERS
from wordlstm.text.tokenizer import tokenize
from wordlstm.training.schedule import MAX_BRANCHES


def run(script, *args, cwd=None, env=None):
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    corpus = tmp / "tiny.txt"
    corpus.write_text(TINY)
    out = tmp / "model"
    # A named size: one run, checkpointed with its resume state (auto's branches save at their end only).
    r = run("train.py", corpus, "--out", out, "--max-seconds", 3, "--seq-len", 20, "--batch-size", 4, "--size", "small",
            "--embed-dim", 16, "--hidden-size", 16, "--num-layers", 1, "--seed", 1)
    assert r.returncode == 0, r.stderr
    return out, r


@pytest.mark.slow
def test_train_writes_a_checkpoint_and_prints_metrics(trained):
    out, r = trained
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "model.safetensors", "resume.json",
                                       "resume.safetensors", "vocab.json"]
    assert "val_loss" in r.stdout and "val_ppl" in r.stdout
    samples = [line for line in r.stdout.splitlines() if line.startswith("  sample at step ")]
    assert samples and all(line.split(": ", 1)[1].startswith("The") for line in samples)  # the prompt, as written
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_size_sets_the_model_and_its_batch_and_a_flag_still_wins(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    out = tmp_path / "medium"
    r = run("train.py", corpus, "--out", out, "--epochs", 1, "--seq-len", 10, "--size", "medium",
            "--hidden-size", 16, "--embed-dim", 16, "--sample-words", 0)
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["hidden_size"] == 16 and config["model"]["num_layers"] == 2  # the flag; the size
    assert config["model"]["weight_drop"] == SIZES["medium"]["weight_drop"] > 0
    assert config["model"]["tie_weights"] is SIZES["medium"]["tie_weights"] is True
    assert config["train"]["batch_size"] == SIZES["medium"]["batch_size"] != TrainConfig.batch_size


@pytest.mark.slow
def test_branches_save_their_mean_which_a_resume_refuses_in_one_line(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    out = tmp_path / "soup"
    r = run("train.py", corpus, "--out", out, "--epochs", 1, "--seq-len", 10, "--batch-size", 4, "--embed-dim", 16,
            "--hidden-size", 16, "--num-layers", 1, "--branches", 2, "--sample-words", 0)
    assert r.returncode == 0, r.stderr
    assert "first run, epoch 1" in r.stdout and "branch 2 of 2, epoch 1" in r.stdout and "branch=2/2" in r.stderr
    mean = [line for line in r.stdout.splitlines() if line.startswith("the mean of the 2 branches: val loss")]
    config = json.loads((out / "config.json").read_text())
    assert len(config["schedule"]["runs"]) == 3 and config["metrics"]["branches"] == 2
    assert f"perplexity {config['metrics']['val_ppl']:.1f}" in mean[0]
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "model.safetensors", "vocab.json"]  # no run to resume
    assert "then 2 branches from its best weights" in (out / "README.md").read_text()  # the card says how
    one_line_error(run("train.py", "--resume", out), "resume")


@pytest.mark.slow
def test_generate_prints_prompt_and_text_and_warns_on_stderr(trained):
    out, _ = trained
    r = run("generate.py", out, "--prompt", "The cat zebra sat", "--max-new-tokens", 15, "--seed", 4)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("The cat zebra sat")  # as the text writes it: a sentence starts
    assert len(r.stdout.split()) > 4
    assert "zebra" in r.stderr and "warning" in r.stderr
    again = run("generate.py", out, "--prompt", "The cat zebra sat", "--max-new-tokens", 15, "--seed", 4)
    assert again.stdout == r.stdout


@pytest.mark.slow
def test_generate_ends_after_the_sentences_asked_for_and_says_why(trained):
    out, _ = trained
    r = run("generate.py", out, "--prompt", "the cat", "--max-new-tokens", 300, "--sentences", 1, "--seed", 4)
    assert r.returncode == 0, r.stderr
    new = tokenize(r.stdout)[2:]
    assert sum(t in ".?!" for t in new) == 1 and new[-1] in '.?!"' and "ended after 1 sentence" in r.stderr
    r = run("generate.py", out, "--prompt", "the cat", "--max-new-tokens", 3, "--seed", 4)
    assert "ended at the 3-token bound" in r.stderr


def test_suggest_prints_the_next_words_and_names_only_the_unknown_ones(trained):
    out, _ = trained
    r = run("suggest.py", out, "--prompt", "the zebra sat on the ma", "--k", 3)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert rows and all(word.startswith("ma") and re.fullmatch(r"<1%|\d+%", p) for word, p in rows)  # "ma" is typed
    named = [w.strip() for w in r.stderr.strip().split(": ")[-1].split(",")]
    assert named == ["zebra"]  # "ma" is not an unknown word: it is being typed
    r = run("suggest.py", out, "--prompt", "the zebra sat on the ma", "--k", 3, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    shares = [w["probability"] for w in report["words"]]
    # A word being typed: each completion's probability given "ma" (they sum to 1 over all of them), not a
    # share of every word the model might write next, which printed as 0.0000.
    assert report["partial"] == "ma" and report["unknown"] == ["zebra"] and 0.3 < sum(shares) <= 1.0001


def test_a_prompt_of_unknown_words_is_refused_alike_by_generate_and_suggest(trained):
    out, _ = trained
    for script in ("generate.py", "suggest.py"):
        one_line_error(run(script, out, "--prompt", "zebra quantum "), "none of the prompt's words is in the model's "
                       "vocabulary ('zebra', 'quantum')")
    one_line_error(run("suggest.py", out, "--prompt", "the qqx"), "no word of the model's vocabulary begins with 'qqx'")


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"   \n\n ", "empty"), (b"\x00\x01\x02binary", "binary"), ("d\xe9j\xe0".encode("latin-1"), "UTF-8"),
    (b"too short for a window", "too few for one window"),
])
@pytest.mark.slow
def test_train_bad_corpus(tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    one_line_error(run("train.py", bad, "--out", tmp_path / "o", "--epochs", 1), message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--seq-len", 0], "seq_len"), (["--batch-size", -1], "batch_size"), (["--lr", 0], "lr"),
    (["--epochs", -1], "epochs"), (["--epochs", "many"], "invalid int value"), (["--device", "nope"], "unknown device"),
    (["--branches", -1], "branches must be 0"),
    (["--size", "medium", "--embed-dim", 64, "--tie-weights"],
     "(got 64 and 256); make them equal, or untie them (--no-tie-weights)"),
    (["--members", 0], "members must be 1"),
])
@pytest.mark.slow
def test_train_bad_settings(tmp_path, args, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TINY)
    one_line_error(run("train.py", corpus, "--out", tmp_path / "o", *args), message)


@pytest.mark.slow
def test_train_bad_paths(tmp_path):
    one_line_error(run("train.py", tmp_path / "missing.txt", "--out", tmp_path / "o"), "no such file")
    one_line_error(run("train.py", tmp_path, "--out", tmp_path / "o"), "holds no .txt file")
    (tmp_path / "c.txt").write_text(TINY)
    one_line_error(run("train.py", tmp_path / "c.txt", "--out", tmp_path), "not a wordlstm checkpoint")
    with zipfile.ZipFile(tmp_path / "texts.zip", "w") as zf:  # several files: the bad one is named
        zf.writestr("good.txt", TINY)
        zf.writestr("latin.txt", "caf\xe9".encode("latin-1"))
    one_line_error(run("train.py", tmp_path / "texts.zip", "--out", tmp_path / "o"),
                   "latin.txt (in texts.zip) is not valid UTF-8")
    one_line_error(run("train.py", tmp_path / "c.txt", tmp_path / "gone.txt", "--out", tmp_path / "o"),
                   "gone.txt: no such file")


@pytest.mark.parametrize("args, message", [
    (["--prompt", ""], "empty"), (["--prompt", "qwerty zxcv"], "'qwerty', 'zxcv'"),
    (["--prompt", "the", "--temperature", -1], "temperature"), (["--prompt", "the", "--top-k", -1], "top_k"),
    (["--prompt", "the", "--top-p", 0], "top_p"), (["--prompt", "the", "--top-p", 1.1], "top_p"),
    (["--prompt", "the", "--max-new-tokens", -1], "max_new_tokens"),
    (["--prompt", "the", "--max-new-tokens", 10**9], "max_new_tokens"),
    (["--prompt", "the", "--sentences", -1], "sentences must be 0"),
    (["--prompt", "the", "--stop", "qqqzzz"], "the model never writes 'qqqzzz'"),
])
def test_generate_bad_input(trained, args, message):
    one_line_error(run("generate.py", trained[0], *args), message)


def test_zero_epochs_or_seconds_mean_no_bound_of_that_kind_as_in_the_app(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TINY)
    r = run("train.py", corpus, "--out", tmp_path / "o", "--max-seconds", 0, "--epochs", 2, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "2 epochs will end it" in r.stdout  # no time limit: the epochs end it
    r = run("train.py", corpus, "--out", tmp_path / "o", "--epochs", 0, "--max-seconds", 5, "--size", "small",
            "--dry-run")
    assert r.returncode == 0 and "the time budget will end it" in r.stdout, r.stderr
    one_line_error(run("train.py", corpus, "--out", tmp_path / "o", "--max-seconds", 0),
                   "give a number of epochs, a time budget in seconds, or both")  # what the app says to 0 and 0


def test_a_missing_folder_is_named_at_once_and_an_unreachable_hub_in_one_line(tmp_path):
    """`runs/nope`, where runs/ is a folder here, is a missing run, not a Hub repo: no request is made. A
    repo id while the Hub takes no connection: one line, without the client's retries and their warnings."""
    (tmp_path / "runs").mkdir()
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path / "cache")}  # port 9: nothing listens
    for name in ("runs/nope", "./nope", "~/nope/x"):
        r = run("generate.py", name, "--prompt", "the", cwd=tmp_path, env=env)
        one_line_error(r, "no such checkpoint folder")
    one_line_error(run("generate.py", "alice/nope", "--prompt", "the", cwd=tmp_path, env=env),
                   "could not download alice/nope: the Hub at http://127.0.0.1:9 is unreachable")


@pytest.mark.slow
def test_generate_bad_checkpoint(tmp_path):
    one_line_error(run("generate.py", tmp_path / "none", "--prompt", "the"), "no such checkpoint folder")
    one_line_error(run("generate.py", tmp_path, "--prompt", "the"), "not a complete checkpoint")


def test_loadtest_says_in_one_line_when_the_app_it_started_dies(tmp_path):
    """As when gradio is missing: the app exits at once; the load test names that, with no traceback."""
    stub = tmp_path / "gradio"
    stub.mkdir()
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'gradio' (a stand-in)\")")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "loadtest.py"), "--users", "1"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "the app exited (code 1) before it answered" in r.stderr and "No module named 'gradio'" in r.stderr


@pytest.mark.slow
def test_train_refuses_settings_over_the_memory_limit_in_one_line(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    env = {**os.environ, "PYTHONPATH": ROOT, "WORDLSTM_MAX_MEMORY_MB": "300"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out",
                        str(tmp_path / "m"), "--hidden-size", "1024", "--num-layers", "4", "--batch-size", "256",
                        "--seq-len", "400", "--epochs", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "of memory; this machine allows 300 MB" in r.stderr and "fits" in r.stderr
    assert not (tmp_path / "m").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_long_budget_on_a_small_text_trains_runs_of_a_few_epochs_and_ends_early(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    out = tmp_path / "long"
    r = run("train.py", corpus, "--out", out, "--max-seconds", 3600, "--sample-words", 0)  # auto, the default
    assert r.returncode == 0, r.stderr
    assert f"an ensemble of {MAX_MEMBERS} models trained apart, each with {MAX_BRANCHES} branches of at most {LONGEST_RUN} epochs" in r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["branches"] == MAX_MEMBERS * MAX_BRANCHES
    runs = config["schedule"]["runs"]  # the schedule as planned: each model's first run and its branches
    assert len(runs) == MAX_MEMBERS * (MAX_BRANCHES + 1) and {r["epochs"] for r in runs} == {LONGEST_RUN}
    assert config["model"]["members"] == config["metrics"]["members"] == MAX_MEMBERS
    assert config["metrics"]["epochs"] <= MAX_MEMBERS * (MAX_BRANCHES + 1) * LONGEST_RUN + 1e-6  # each run's epochs at most
    assert config["metrics"]["seconds"] < 3600 and not config["metrics"]["stopped"]
    card = (out / "README.md").read_text()
    assert f"at most {LONGEST_RUN} epochs long" in card and f"It is an ensemble of {MAX_MEMBERS} such models" in card
    assert f"the ensemble of {MAX_MEMBERS} models: val loss" in r.stdout and f"model {MAX_MEMBERS} of {MAX_MEMBERS}, branch" in r.stdout
    r = run("generate.py", out, "--prompt", "the cat", "--max-new-tokens", 10, "--seed", 4)  # it loads and writes
    assert r.returncode == 0 and r.stdout.startswith("The cat"), r.stderr


def test_a_first_run_that_trained_alone_where_branches_were_planned_is_saved(tmp_path, monkeypatch):
    """Where branches are planned, the first run takes no checkpoints; if it is the only run that trains
    (stopped, or a budget of a second that leaves the next run no time), its model is what is saved."""
    from wordlstm import load_checkpoint
    from wordlstm.commands import train as command

    real = command.train

    def first_run_only(ids, model_cfg, cfg, schedule, **kw):  # what train() returns when only the first run trained
        assert schedule.branches == 2 and kw.get("on_checkpoint") is not None
        return real(ids, model_cfg, cfg, **{**kw, "on_checkpoint": None})

    corpus, out = tmp_path / "tiny.txt", tmp_path / "first"
    corpus.write_text(TINY)
    monkeypatch.setattr(command, "train", first_run_only)
    monkeypatch.setattr(sys, "argv", ["train.py", str(corpus), "--out", str(out), "--epochs", "1", "--seq-len", "10",
                                      "--batch-size", "4", "--embed-dim", "8", "--hidden-size", "8", "--num-layers",
                                      "1", "--branches", "2", "--sample-words", "0"])
    assert not command.main()  # None: done
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["epochs"] == 1 and "branches" not in config["metrics"]
    assert load_checkpoint(out).model.config.hidden_size == 8 and not (out / "resume.json").exists()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_subcommand_gives_its_help_in_process(name, monkeypatch, capsys):
    """The quick tier's look at each subcommand's module (the end-to-end runs are subprocesses)."""
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # main() names the program in sys.argv[0]
    with pytest.raises(SystemExit) as stopped:
        commands.main([name, "--help"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: wordlstm {name} ")
