"""What a training will cost, before it runs: its peak memory and its time.

`plan()` is arithmetic on the settings; nothing is trained and no weights are
made (the parameters are counted on the meta device). The app refuses settings
that do not fit the server's limits (`Limits`) and shows the estimate as the
sliders move; the CLI prints it. `probe()` times one real step on a small batch
to calibrate the time formula on this machine, for when an estimate is near a
limit. tests/test_cost.py holds the memory estimate to measured peaks.
"""
import math
import time
from dataclasses import dataclass, replace

import torch

from ..errors import count
from ..model.lstm import ModelConfig, WordLSTM
from ..text.data import Windows, split, split_lengths
from ..training.device import autocast, use_bf16
from ..training.loop import LossStep, val_batch_size

FLOAT = 4  # bytes: weights, Adam and activations are float32 (bf16 autocast keeps fp32 copies)
# ... but under bf16 autocast on a CPU (use_bf16: auto takes it where the CPU has AMX) oneDNN's bf16 LSTM
# keeps its activations for the backward pass in bf16: half the bytes (measured, tests/test_cost.py). On
# CUDA this is not yet measured, so the float32 figure stands there, erring high.
BF16 = 2
# Floats per token of a batch and hidden unit, fitted to measured peaks (tests/test_cost.py),
# erring high: each layer keeps its gates, cell and output states and its dropout mask for
# the backward pass, which then adds one layer's gradients at a time.
LSTM_FLOATS_PER_LAYER, LSTM_FLOATS_BACKWARD = 12, 8
# Seconds per step: sustained fp32 FLOP/s of a training step on one CPU core, and the
# fixed cost of a step (kernel launches, the optimizer's pass over all weights).
CPU_FLOPS_PER_CORE = 6e10
GPU_FLOPS = 5e13
STEP_OVERHEAD = 2e-3
OPTIMIZER_SECONDS_PER_PARAM = 2e-9  # Adam reads and writes ~4 floats per weight, memory-bound
LOGIT_SECONDS = 4.5e-9  # the softmax's passes over each output score, memory-bound
SLACK = 100 * 2**20  # bytes: the allocator's, and small buffers the formula leaves out


@dataclass
class Plan:
    """A training's estimated cost. memory: bytes by part, whose sum is the peak."""
    params: int
    memory: dict[str, int]
    batch_tokens: int  # tokens per step (batch x sequence length)
    steps_per_epoch: int
    seconds_per_step: float
    seconds_per_validation: float  # the whole held-out tail, once

    @property
    def peak_bytes(self) -> int:
        return sum(self.memory.values())

    @property
    def seconds_per_epoch(self) -> float:
        return self.steps_per_epoch * self.seconds_per_step + self.seconds_per_validation

    def by_epochs(self, budget: float | None, epochs: int | None) -> bool:
        """Whether a run of at most `epochs` epochs and `budget` seconds ends on its epochs."""
        return bool(epochs) and not (budget and epochs * self.seconds_per_epoch > budget)

    def ends(self, budget: float | None, epochs: int | None) -> str:
        """Which bound will end a run of at most `epochs` epochs and `budget` seconds, for people (patience
        may end it sooner)."""
        if self.by_epochs(budget, epochs):
            return f"{count(epochs, 'epoch')} will end it, in about {duration(epochs * self.seconds_per_epoch)}"
        if budget:
            return f"the time budget will end it, after about {budget / self.seconds_per_epoch:.1f} epochs"
        return "nothing bounds it but patience"

    def summary(self) -> str:
        return (f"about {size(self.peak_bytes)} of memory and {duration(self.seconds_per_epoch)} per epoch "
                f"({self.steps_per_epoch:,} steps of {duration(self.seconds_per_step)})")


def size(n: float) -> str:
    return f"{n / 2**30:.0f} GB" if n >= 10 * 2**30 else f"{n / 2**20:,.0f} MB"


def duration(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 10:
        return f"{s:.1f} s"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"


def _meta(model_config: ModelConfig) -> WordLSTM:
    """The model with its shapes and no weights: counting it costs nothing."""
    with torch.device("meta"):
        return WordLSTM(model_config)


def parameter_counts(model_config: ModelConfig, model: WordLSTM | None = None) -> dict[str, int]:
    """Weights by part (embedding, lstm, output, and the output's rare-word clusters),
    counted on `model`, or on the meta device."""
    model = model or _meta(model_config)
    counts = {"embedding": model.embed.weight.numel() if model.embed is not None else 0,  # None: tied, adaptive
              "lstm": sum(p.numel() for p in model.lstm.parameters())}
    if model.adaptive:
        counts["output"] = sum(p.numel() for p in model.head.head.parameters())
        counts["clusters"] = sum(p.numel() for p in model.head.tail.parameters())
    else:
        counts["output"] = 0 if model_config.tie_weights else model.head.weight.numel()
        counts["output"] += model.head.bias.numel()
    return counts


def plan(corpus_tokens: int, model_config: ModelConfig, cfg, device="cpu", word_counts=None,
         time_scale: float = 1.0) -> Plan:
    """Estimate the peak memory and the time of train(ids, model_config, cfg) on a
    text of `corpus_tokens` tokens. word_counts: the vocabulary's counts, most frequent
    first (Vocab.counts), for the share of tokens in each of the adaptive softmax's
    clusters; without them, Zipf's law. time_scale: what probe() measured, to
    correct the time formula on this machine."""
    m, device, shapes = model_config, torch.device(device), _meta(model_config)
    params = sum(parameter_counts(m, shapes).values())
    widths = cluster_widths(shapes)
    V, E, H, L = m.vocab_size, m.embed_dim, m.hidden_size, m.num_layers
    # The windows of a text of that many tokens (the ids never read: a stand-in of zeros, expanded, not stored)
    text = torch.zeros(1, dtype=torch.int32).expand(corpus_tokens)
    train_lengths, val_lengths = split_lengths(cfg.documents, cfg.seq_len, cfg.val_fraction)
    if train_lengths:  # several documents: only the lengths count
        train_ids, val_ids = text[:sum(train_lengths)], text[:sum(val_lengths)]
    else:
        train_ids, val_ids = split(text, cfg.seq_len, cfg.val_fraction)
    windows = Windows(train_ids, cfg.seq_len, cfg.stride, train_lengths)
    batch = min(cfg.batch_size, len(windows))  # a short text gives smaller batches
    n = batch * cfg.seq_len
    val_len = min(cfg.seq_len, len(val_ids) - 1)
    val_windows = len(Windows(val_ids, val_len, lengths=val_lengths))
    val_n = min(val_batch_size(cfg), val_windows) * val_len

    shares = cluster_shares(m, word_counts)
    if m.softmax == "full":
        logits, per_token = V, 2 * V  # the logits and their log-softmax
    else:  # the head's, then each cluster's for its share of the tokens: its rows' outputs, projection, logits
        bounds = [*m.cutoffs, V]
        logits = m.cutoffs[0] + len(m.cutoffs) + sum(s * (b - a) for s, a, b in zip(shares, bounds[:-1], bounds[1:]))
        per_token = 2 * logits + sum(s * (H + d) for s, d in zip(shares, widths))
    lstm_bytes = BF16 if device.type == "cpu" and use_bf16(device, cfg.precision) else FLOAT
    memory = {
        "weights, gradients and Adam": 4 * params * FLOAT,
        "the best weights, kept": params * FLOAT,
        "text": corpus_tokens * 8,  # the int32 ids, and an int64 copy to count words
        "slack": SLACK,
        # What comes and goes: a step's activations, a validation batch's, or the next
        # copy of the best weights (made after validation, before the last one is freed).
        "activations": max(n * ((E + per_token) * FLOAT + (LSTM_FLOATS_PER_LAYER * L + LSTM_FLOATS_BACKWARD) * H
                                * lstm_bytes), val_n * (E + 4 * H + per_token) * FLOAT, params * FLOAT),
    }

    rate = GPU_FLOPS if device.type == "cuda" else CPU_FLOPS_PER_CORE * torch.get_num_threads()
    # probe()'s time_scale is a whole step's measured / estimated, so it scales the whole step (and validation)
    token_seconds = (6 * flops_per_token(m, shares, widths) / rate + logits * LOGIT_SECONDS) * time_scale
    step = n * token_seconds + (STEP_OVERHEAD + OPTIMIZER_SECONDS_PER_PARAM * params) * time_scale
    val_tokens = val_windows * val_len
    return Plan(params=params, memory=memory, batch_tokens=n,
                steps_per_epoch=windows.num_batches(cfg.batch_size, windows.stride == cfg.seq_len),
                seconds_per_step=step, seconds_per_validation=val_tokens * token_seconds / 3)


def cluster_shares(m: ModelConfig, word_counts=None) -> list[float]:
    """The share of the text's tokens in each of the adaptive softmax's clusters
    (none for the full softmax): from the counts, or by Zipf's law (a word's
    frequency falls as 1 / its rank), which puts more of them in the clusters
    than real texts do (22% past the 1,000 most frequent words of a 12,800-word
    vocabulary, where anna.txt has 13%)."""
    if m.softmax == "full":
        return []
    bounds = [*m.cutoffs, m.vocab_size]
    if word_counts is not None:
        counts = torch.as_tensor(word_counts, dtype=torch.float64)
        return [(counts[a:b].sum() / counts.sum()).item() for a, b in zip(bounds[:-1], bounds[1:])]
    harmonic = lambda k: math.log(k) + 0.5772  # noqa: E731  (1 + 1/2 + ... + 1/k, closely)
    return [(harmonic(b) - harmonic(a)) / harmonic(m.vocab_size) for a, b in zip(bounds[:-1], bounds[1:])]


def cluster_widths(model: WordLSTM) -> list[int]:
    """The width of each adaptive cluster's projection (none for the full softmax)."""
    return [tail[0].weight.shape[0] for tail in model.head.tail] if model.adaptive else []


def flops_per_token(m: ModelConfig, shares: list[float], widths: list[int]) -> float:
    """Multiply-adds of one token's forward pass through the weight matrices: the LSTM's
    and the output layer's; an adaptive softmax's cluster only for its share of the
    tokens (`shares`, with projections of `widths`). A training step costs 6x this in FLOPs."""
    h = m.hidden_size
    lstm = sum(4 * h * ((m.embed_dim if i == 0 else h) + h) for i in range(m.num_layers))
    if m.softmax == "full":
        return lstm + h * m.vocab_size
    bounds = [*m.cutoffs, m.vocab_size]
    head = h * (bounds[0] + len(m.cutoffs))
    return lstm + head + sum(s * d * (h + b - a) for s, d, a, b in zip(shares, widths, bounds[:-1], bounds[1:]))


def probe(model_config: ModelConfig, cfg, device="cpu", batch: int = 4, seq_len: int = 32) -> float:
    """Time a real training step of this model on a batch of `batch` x `seq_len` (the quickest of three,
    after a first that pays for set-up) and return measured / estimated: plan()'s time_scale."""
    device = torch.device(device)
    model = WordLSTM(model_config).to(device).train()
    step, optimizer = LossStep(model), torch.optim.Adam(model.parameters())  # the step as train() runs it
    x = torch.randint(model_config.vocab_size, (batch, seq_len + 1), device=device)
    bf16, times = use_bf16(device, cfg.precision), []
    for _ in range(4):
        start = time.perf_counter()
        with autocast(device, bf16):
            loss, _ = step(x[:, :-1], None, x[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = min(times[1:])
    uniform = torch.ones(model_config.vocab_size)  # the probe's words are drawn uniformly
    small = replace(cfg, batch_size=batch, seq_len=seq_len, stride=None)
    return seconds / plan(4 * batch * (seq_len + 1), model_config, small, device, uniform).seconds_per_step
