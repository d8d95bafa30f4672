"""torchrun with 2 CPU processes on the gloo backend: DDP end to end."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY
from test_cli import run

pytestmark = pytest.mark.slow  # two processes of torchrun, and a run to compare them with

# The book's size, dropout off: medium's dropouts draw each process's masks for its own rows, not the same.
ARGS = ["--size", "small", "--epochs", 3, "--seq-len", 10, "--batch-size", 4, "--embed-dim", 16, "--hidden-size", 16,
        "--num-layers", 1, "--dropout", 0, "--precision", "fp32", "--seed", 5]


@pytest.mark.parametrize("branches", [0, 1])
def test_torchrun_two_processes_matches_one_with_the_same_global_batch(tmp_path, branches):
    """And with branches: each process trains them and averages them alike; only rank 0 reports."""
    args = [*ARGS, "--branches", branches]
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out", str(tmp_path / "ddp"),
                        *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("saved ") == 1  # rank 0 alone reports and writes
    assert sorted(os.listdir(tmp_path)) == ["ddp", "tiny.txt"]  # one checkpoint, no stray temp folders
    single = run("train.py", corpus, "--out", tmp_path / "one", *args)
    assert single.returncode == 0, single.stderr
    ddp, one = (json.loads((tmp_path / d / "config.json").read_text())["metrics"] for d in ("ddp", "one"))
    assert ddp["steps"] == one["steps"] == 30 * (1 + branches) and ddp["tokens"] == one["tokens"]
    assert abs(ddp["val_loss"] - one["val_loss"]) < 1e-3  # the same maths, summed in another order
