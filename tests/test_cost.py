"""The cost estimate (wordlstm.planning.cost) against measurement, and admission control (wordlstm.planning.limits)."""
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from conftest import ROOT
from wordlstm import ModelConfig, TrainConfig, UserError, WordLSTM
from wordlstm.planning.cost import cluster_shares, parameter_counts, plan
from wordlstm.planning.limits import Limits, admit, fitting_change

# Trains for a few seconds in a fresh process and prints the estimated and the measured peak
# memory of train() alone: the resident set's high-water mark, reset just before it starts.
MEASURE = r"""
import json, sys, torch
from wordlstm import ModelConfig, TrainConfig, train
from wordlstm.planning.cost import plan
spec = json.loads(sys.argv[1])
torch.set_num_threads(2)
m, t, zipf = ModelConfig(**spec["model"]), TrainConfig(epochs=1, max_seconds=3, **spec["train"]), spec["zipf"]
g = torch.Generator().manual_seed(0)
weights = 1 / torch.arange(1, m.vocab_size + 1.0) if zipf else torch.ones(m.vocab_size)
ids = torch.multinomial(weights, spec["tokens"], replacement=True, generator=g).int()
counts = torch.bincount(ids.long(), minlength=m.vocab_size).sort(descending=True).values
estimate = plan(len(ids), m, t, word_counts=counts).peak_bytes
def rss(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
before = rss("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current resident set
train(ids, m, t)
print(json.dumps({"estimate": estimate, "measured": rss("VmHWM") - before}))
"""
SHAPES = {  # (model, train, tokens, zipfian words): the output layers, sizes and data that differ most
    "book model, adaptive, zipf": (dict(vocab_size=10000), dict(batch_size=32, seq_len=100), 200_000, True),
    "adaptive, uniform words": (dict(vocab_size=10000), dict(batch_size=32, seq_len=100), 200_000, False),
    "full softmax, long windows": (dict(vocab_size=500, softmax="full"), dict(batch_size=128, seq_len=200),
                                   300_000, True),
    "wide, 2 layers": (dict(vocab_size=500, softmax="full", hidden_size=512, num_layers=2),
                       dict(batch_size=64, seq_len=100), 300_000, True),
    "large vocabulary, full": (dict(vocab_size=30000, softmax="full"), dict(batch_size=8, seq_len=20),
                               300_000, True),
}


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.slow
def test_the_memory_estimate_holds_to_the_measured_peak(shape):
    """Within -50% / +25% of the measured peak: it errs high (refusing a little early),
    and is never far below what a training takes."""
    model, train, tokens, zipf = SHAPES[shape]
    spec = json.dumps({"model": model, "train": train, "tokens": tokens, "zipf": zipf})
    out = subprocess.run([sys.executable, "-c", MEASURE, spec], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert 0.5 <= r["measured"] / r["estimate"] <= 1.25, r


@pytest.mark.parametrize("config", [dict(vocab_size=12000), dict(vocab_size=500, softmax="full"),
                                    dict(vocab_size=3000, embed_dim=64, hidden_size=64, tie_weights=True),
                                    dict(vocab_size=3000, embed_dim=64, hidden_size=64, tie_weights=True, softmax="full")])
def test_parameters_are_counted_without_building_the_model(config):
    m = ModelConfig(**config)
    assert sum(parameter_counts(m).values()) == sum(p.numel() for p in WordLSTM(m).parameters())


def test_cluster_shares_come_from_the_counts_or_zipf():
    m = ModelConfig(vocab_size=6000)  # adaptive: the head's 1,000 words, then clusters of 4,000 and 1,000
    counts = [10] * 1000 + [1] * 5000
    assert cluster_shares(m, counts) == pytest.approx([4000 / 15000, 1000 / 15000])
    zipf = cluster_shares(m)
    assert 0 < zipf[1] < zipf[0] < 0.3
    assert cluster_shares(ModelConfig(vocab_size=6000, softmax="full")) == []


def test_the_estimate_grows_with_what_a_step_holds():
    m, t = ModelConfig(vocab_size=12000), TrainConfig(precision="fp32")  # auto: bf16 on a CPU with AMX
    base = plan(500_000, m, t)
    assert plan(500_000, m, replace(t, batch_size=64)).memory["activations"] > 1.9 * base.memory["activations"]
    # bf16 keeps the LSTM's activations in half the bytes; validation stays in float32 on the CPU
    half = plan(500_000, m, replace(t, batch_size=64, precision="bf16")).memory["activations"]
    assert 0.5 < half / plan(500_000, m, replace(t, batch_size=64)).memory["activations"] < 0.75
    assert plan(500_000, replace(m, softmax="full", cutoffs=None), t).peak_bytes > base.peak_bytes
    bigger = plan(500_000, replace(m, hidden_size=512), t)
    assert bigger.params > base.params and bigger.seconds_per_step > base.seconds_per_step
    assert base.steps_per_epoch == (450_000 - 101) // 100 // 32 + 0  # the windows of the training part, 32 a step
    assert "MB of memory" in base.summary() and "per epoch" in base.summary()


def test_limits_come_from_the_environment():
    assert Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "3000", "WORDLSTM_MAX_TRAIN_SECONDS": "90"}) == \
        Limits(memory=3000 * 2**20, seconds=90, session_memory=750 * 2**20)  # a session reads in a quarter
    assert Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "0", "SPACE_ID": "alice/app"}) == Limits(None, 600)
    assert Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "0", "WORDLSTM_MAX_TRAIN_SECONDS": "0",
                            "SPACE_ID": "alice/app"}) == Limits(None, None)
    default = Limits.from_env({})
    assert default.seconds is None and (default.memory is None or default.memory > 0)
    with pytest.raises(UserError, match="WORDLSTM_MAX_MEMORY_MB must be a number"):
        Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "lots"})


BIG = (ModelConfig(vocab_size=12500, embed_dim=512, hidden_size=1024, num_layers=4, softmax="full"),
       TrainConfig(seq_len=400, batch_size=256, precision="fp32"))


def test_settings_that_do_not_fit_are_refused_with_a_change_that_does():
    limits, in_use = Limits(memory=3000 * 2**20), 500 * 2**20
    with pytest.raises(UserError) as e:
        admit(917_000, *BIG, limits, in_use)
    message = str(e.value)
    assert "these settings need about 3" in message and "GB of memory; this server allows 3,000 MB" in message
    batch = int(message.split("a batch size of ")[1].split()[0])
    cfg, cost = admit(917_000, BIG[0], replace(BIG[1], batch_size=batch), limits, in_use)  # the change does fit
    assert in_use + cost.peak_bytes <= limits.memory
    with pytest.raises(UserError):
        admit(917_000, BIG[0], replace(BIG[1], batch_size=2 * batch), limits, in_use)  # and is the largest that does


def test_the_time_budget_is_capped_and_a_step_must_fit_in_it():
    m, t = ModelConfig(vocab_size=12000), TrainConfig(epochs=None, max_seconds=5000)
    cfg, _ = admit(500_000, m, t, Limits(seconds=600))
    assert cfg.max_seconds == 600
    cfg, _ = admit(500_000, m, replace(t, max_seconds=None, epochs=3), Limits(seconds=600))
    assert (cfg.max_seconds, cfg.epochs) == (600, 3)
    slow = TrainConfig(seq_len=400, batch_size=256, max_seconds=1)
    with pytest.raises(UserError, match=r"a training step of these settings and the one batch of validation every "
                                        r"training gets take about [\d.]+ s, more than the time budget of 1.0 s; "
                                        r"a batch size of \d+ fits"):
        admit(917_000, m, slow, Limits())


def test_the_fitting_change_is_the_least_drastic():
    m, t = ModelConfig(vocab_size=5000, softmax="full"), TrainConfig(batch_size=32, seq_len=100)
    assert fitting_change(m, t, lambda m2, t2: t2.batch_size <= 8) == "a batch size of 8 fits"
    assert fitting_change(m, t, lambda m2, t2: t2.seq_len <= 25) == "a sequence length of 25 fits"
    assert fitting_change(m, t, lambda m2, t2: m2.softmax == "adaptive") == "the adaptive output layer fits"
    assert fitting_change(m, t, lambda m2, t2: m2.num_layers == 1) == "1 LSTM layer fits"
    assert fitting_change(m, t, lambda m2, t2: m2.vocab_size < 1000, lambda n: 5000 // n) == \
        "a min count of 10 fits (500 words)"
    assert fitting_change(m, t, lambda m2, t2: False) is None


def test_the_estimate_says_which_bound_ends_the_run():
    m = ModelConfig(vocab_size=12000)
    cost = plan(400_000, m, TrainConfig(epochs=None, max_seconds=60))
    assert cost.ends(60, None).startswith("the time budget will end it")
    assert cost.ends(60, 1000).startswith("the time budget will end it")  # 1,000 epochs do not fit in a minute
    assert cost.ends(24 * 3600, 1).startswith("1 epoch will end it, in about")
    assert cost.ends(None, None) == "nothing bounds it but patience"
