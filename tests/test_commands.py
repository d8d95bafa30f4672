"""The `wordlstm` console command, as pip installs it, and run tracking with trackio."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CPU_BF16, ROOT, TINY

WORDLSTM = shutil.which("wordlstm", path=os.path.dirname(sys.executable)) or shutil.which("wordlstm")
pytestmark = pytest.mark.skipif(WORDLSTM is None and not os.environ.get("CI"),
                                reason="the package is not installed (pip install -e .): no wordlstm command")
SMALL = ["--seq-len", 10, "--batch-size", 4, "--embed-dim", 8, "--hidden-size", 8, "--num-layers", 1, "--seed", 2]


def wordlstm(*args, env=None):
    assert WORDLSTM, "CI installs the package, so the wordlstm command must exist"
    return subprocess.run([WORDLSTM, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@pytest.mark.slow
def test_version_help_and_unknown_subcommands():
    from wordlstm import __version__
    r = wordlstm("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"wordlstm {__version__}"
    r = wordlstm("--help")
    assert r.returncode == 0 and all(f"  {name} " in r.stdout for name in
                                     ("train", "generate", "score", "originality", "push", "deploy", "bench"))
    for sub in ("train", "generate", "score", "originality", "push", "deploy", "bench"):
        r = wordlstm(sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: wordlstm {sub} "), sub
    for args, message in [((), "give a subcommand"), (("trian",), "unknown subcommand 'trian'")]:
        r = wordlstm(*args)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_then_generate_as_the_scripts_do(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    r = wordlstm("train", corpus, "--out", tmp_path / "m", "--epochs", 2, *SMALL)
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["command"].startswith("wordlstm train ")
    r = wordlstm("generate", tmp_path / "m", "--prompt", "the cat", "--max-new-tokens", 12, "--seed", 3)
    script = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "generate.py"), str(tmp_path / "m"),
                             "--prompt", "the cat", "--max-new-tokens", "12", "--seed", "3"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0 and r.stdout == script.stdout and len(r.stdout.split()) > 10
    r = wordlstm("train", tmp_path / "missing.txt", "--out", tmp_path / "x")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_track_logs_the_run_to_trackio(tmp_path):
    trackio = pytest.importorskip("trackio")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    env = {"TRACKIO_DIR": str(tmp_path / "trackio")}  # local only: no Space, no network
    for seed in (1, 2):
        r = wordlstm("train", corpus, "--out", tmp_path / f"m{seed}", "--epochs", 3, *SMALL[:-1], seed,
                     "--track", "tiny-runs", env=env)
        assert r.returncode == 0, r.stderr
    code = """
import json, trackio
from trackio.sqlite_storage import SQLiteStorage
runs = trackio.Api().runs("tiny-runs")
print(json.dumps([[r.config["train"]["seed"], SQLiteStorage.get_logs("tiny-runs", r.name)] for r in runs]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    runs = dict(json.loads(out.stdout))  # read back through trackio's own API, in a fresh process
    assert sorted(runs) == [1, 2]
    for seed, logs in runs.items():
        val = [log["val_ppl"] for log in logs if "val_ppl" in log]
        assert len(val) == 3 and any("train_loss" in log and "tokens_per_s" in log for log in logs)
        final = next(log for log in logs if "final/val_ppl" in log)
        metrics = json.loads((tmp_path / f"m{seed}" / "config.json").read_text())["metrics"]
        assert final["final/val_ppl"] == pytest.approx(metrics["val_ppl"]) == pytest.approx(min(val))
    assert trackio is not None


@pytest.mark.slow
def test_track_without_trackio_says_how_to_install_it(tmp_path):
    blocker = tmp_path / "no-trackio" / "trackio"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('trackio is not installed')\n")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    r = wordlstm("train", corpus, "--out", tmp_path / "m", "--epochs", 1, *SMALL, "--track",
                 env={"PYTHONPATH": str(blocker.parent)})
    assert r.returncode == 2 and "pip install 'wordlstm[track]'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_bench_ablation_trains_once_per_step_of_the_recipe(tmp_path):
    from wordlstm.commands.bench import ABLATION
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY * 4)
    r = wordlstm("bench", "--ablation", "--corpus", corpus, "--seconds", 1)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout.splitlines()[-1])["ablation"]
    assert [row["recipe"] for row in rows] == [name for name, _ in ABLATION]
    # One training per row, each of which trained and gives a perplexity: finite and at least 1. Not a
    # wall time, and not above 1: a second on a text this repetitive can round to perplexity 1.0.
    assert all(row["epochs"] > 0 and row["train_tokens_per_s"] > 0 and 1 <= row["val_ppl"] < 1000 for row in rows)
    assert not rows[0]["stopped_early"]  # the first row's recipe has no early stopping (patience None)


FAKE_BOOK = '''
import argparse, json
p = argparse.ArgumentParser()
p.add_argument("corpus"); p.add_argument("--train-seconds"); p.add_argument("--gen-tokens")
p.add_argument("--json"); p.add_argument("--device")
a = p.parse_args()
json.dump({"prep_seconds": 2.0, "prep_peak_rss_mib": 100.0, "train_tokens_per_s": 1000.0, "val_ppl": 500.0,
           "gen_tokens_per_s": 100.0, "device": a.device}, open(a.json, "w"))
'''


@pytest.mark.slow
def test_bench_runs_the_book_on_our_device_and_auto_says_what_it_chose(tmp_path):
    corpus, book = tmp_path / "tiny.txt", tmp_path / "book.py"
    corpus.write_text(TINY * 4)
    book.write_text(FAKE_BOOK)  # records the device it was asked to run on
    r = wordlstm("bench", "--corpus", corpus, "--seconds", 1, "--gen-tokens", 5, "--baseline", book, "--size", "auto")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.splitlines()[-1])
    assert report["baseline"]["device"] == "cpu" == report["ours"]["device"]  # side by side, on one device
    assert report["ours"]["precision"] == ("bf16" if CPU_BF16 else "fp32")  # auto's, on this CPU
    assert report["ours"]["size"] == "auto" and report["ours"]["model"] == "2x256"
    assert "auto: the medium size (2x256)" in r.stderr
    assert report["ratios"]["val_ppl"] == round(500.0 / report["ours"]["val_ppl"], 2)
    ours = report["ours"]  # admission's estimates beside what the run measured
    assert ours["plan_step_ms"] > 0
    assert ours["step_vs_plan"] == pytest.approx(ours["step_ms"] / ours["plan_step_ms"], rel=0.02, abs=0.01)
    assert "cuda_peak_mib" not in ours  # on the CPU, no allocator peak to hold the memory estimate to


def test_mfu_is_against_the_cards_peak_or_its_slices():
    from wordlstm.commands.bench import mfu
    assert mfu("cuda (NVIDIA H200)", 98.9e12) == 0.1
    assert mfu("cuda (NVIDIA H200 MIG 3g.71gb)", 98.9e12 * 60 / 132, multiprocessors=60) == 0.1  # ZeroGPU's slice
    assert mfu("cpu", 1e12) is None


@pytest.mark.slow
def test_bench_analysis_reports_the_costs_of_what_the_app_shows(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY * 4)
    r = wordlstm("bench", "--analysis", "--corpus", corpus, "--seconds", 1)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.splitlines()[-1])
    assert report["validations"] >= 1 and report["score_tokens"] == 10_000
    for mode in ("word", "keystroke"):  # the writing box's latency, as percentiles
        assert 0 < report[f"suggest_{mode}_ms_p50"] <= report[f"suggest_{mode}_ms_p95"]
