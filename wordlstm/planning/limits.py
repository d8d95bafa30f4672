"""Admission control: refuse, before anything runs, a training that would not fit.

A shared server sets its limits in the environment:

    WORDLSTM_MAX_MEMORY_MB      the most memory the process may reach, training included
                                (default: 80% of what the container has: its cgroup limit,
                                else the memory available when the limits are read)
    WORDLSTM_MAX_TRAIN_SECONDS  the longest training (default: 600 on a Hugging Face
                                Space, no limit elsewhere; 0 = no limit)
    WORDLSTM_SESSION_MEMORY_MB  the most memory reading one session's text may take (default:
                                a quarter of the memory limit; 0 = no limit)

`admit()` caps a training's time budget at the limit and checks cost.plan()'s
estimate against the memory left; settings that do not fit get a UserError
that names the estimate, the limit and one change that fits. Reading a text
into a corpus is admitted the same way (Admission.reading), so that many
sessions that each upload a large text cannot take the server down.
"""
import math
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch

from ..errors import UserError
from ..model.lstm import ModelConfig
from .cost import Plan, duration, plan, probe, size

MEMORY_SHARE = 0.8  # of the container's memory, by default: the rest is the system's
SPACE_SECONDS = 600  # the default longest training on a Space: one user cannot hold the queue for long
# Reading a text takes about 20 bytes of memory per byte of it at its peak (its tokens as Python strings,
# the words' written forms), measured on the corpora of ../shared, 2 to 21 MB; the corpus then keeps
# about 1.2 (Corpus.nbytes). A session's uploads are admitted by that peak.
TEXT_PEAK_PER_BYTE = 20
SESSION_SHARE = 0.25  # of the memory limit, by default, for one session's text


@dataclass
class Limits:
    memory: int | None = None  # bytes the process may reach; None: no limit
    seconds: float | None = None  # the longest training; None: no limit
    place: str = "this server"  # whose limits, for the messages
    session_memory: int | None = None  # bytes reading one session's text may take; None: no limit

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        env = os.environ if environ is None else environ
        memory = _number(env, "WORDLSTM_MAX_MEMORY_MB")
        seconds = _number(env, "WORDLSTM_MAX_TRAIN_SECONDS")
        if seconds is None and env.get("SPACE_ID"):
            seconds = SPACE_SECONDS
        if memory is None:
            memory_bytes = _default_memory()
        else:  # 0: no limit
            memory_bytes = int(memory * 2**20) or None
        session = _number(env, "WORDLSTM_SESSION_MEMORY_MB")
        if session is None:
            session_bytes = int(SESSION_SHARE * memory_bytes) if memory_bytes else None
        else:
            session_bytes = int(session * 2**20) or None
        return cls(memory=memory_bytes, seconds=float(seconds) if seconds else None, session_memory=session_bytes)

    def describe(self) -> str:
        memory = f"{size(self.memory)} of memory" if self.memory else "no memory limit"
        seconds = f"{duration(self.seconds)} per training" if self.seconds else "no time limit"
        return f"{self.place} allows {memory} and {seconds}"


def _number(env, name: str) -> float | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"{name} must be a number (got {value!r})") from None
    if not number >= 0:
        raise UserError(f"{name} must be 0 (no limit) or more (got {value!r})")
    return number


def _default_memory() -> int | None:
    """MEMORY_SHARE of the container's memory limit (cgroup v2, then v1), or of the
    memory available now; None where neither can be read (not Linux)."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                value = f.read().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:  # "max", or v1's huge number: no limit
            return int(MEMORY_SHARE * int(value))
    available = _proc_value("/proc/meminfo", "MemAvailable")
    return int(MEMORY_SHARE * (available + memory_in_use())) if available else None


def _proc_value(path: str, key: str) -> int | None:
    """A `key: N kB` line of a /proc file, in bytes."""
    try:
        with open(path) as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":")), None)
    except OSError:
        return None


def memory_in_use() -> int:
    """This process's resident memory now, in bytes (0 where it cannot be read)."""
    return _proc_value("/proc/self/status", "VmRSS") or 0


def admit(corpus_tokens: int, model_config: ModelConfig, cfg, limits: Limits, in_use: int = 0, device="cpu",
          word_counts=None, vocab_size_at=None, runs: int = 1, time_scale: float = 1.0):
    """(cfg with its time budget capped at the limit, its Plan), or UserError if the
    settings cannot fit: over the memory left (limits.memory - in_use), or one step
    and one validation batch longer than the time budget (each of `runs` runs' equal share of it).

    vocab_size_at(min_count), if given, lets the message propose a higher min_count. time_scale: this machine's
    step time over plan()'s, where it is known already."""
    if limits.seconds:
        cfg = replace(cfg, max_seconds=min(cfg.max_seconds or math.inf, limits.seconds))
    cost, scale = plan(corpus_tokens, model_config, cfg, device, word_counts, time_scale), time_scale
    here = torch.device(device).type == "cpu" or torch.cuda.is_available()  # not so in ZeroGPU's main process
    if here and cfg.max_seconds and 0.5 < first_seconds(cost) / cfg.max_seconds < 2 and _fits_memory(cost, limits,
                                                                                                      in_use):
        # Near the limit, a real step on this machine settles it, and corrects the proposed changes too.
        scale = probe(model_config, cfg, device)
        cost = plan(corpus_tokens, model_config, cfg, device, word_counts, scale)
    problem = _problem(cost, cfg, limits, in_use, runs)
    if problem is None:
        return cfg, cost

    def fits(m, c):
        counts = word_counts if m.vocab_size == model_config.vocab_size else None
        return _problem(plan(corpus_tokens, m, c, device, counts, scale), c, limits, in_use, runs) is None
    change = fitting_change(model_config, cfg, fits, vocab_size_at)
    raise UserError(f"{problem}; {change or 'no single change of the settings fits: start again from the defaults'}")


def first_seconds(cost: Plan) -> float:
    """A step, and the one batch of validation every training gets."""
    return cost.seconds_per_step * 4 / 3  # a validation batch's forward pass is about a third of a step


def _fits_memory(cost: Plan, limits: Limits, in_use: int) -> bool:
    return not limits.memory or in_use + cost.peak_bytes <= limits.memory


def _problem(cost: Plan, cfg, limits: Limits, in_use: int, runs: int) -> str | None:
    if not _fits_memory(cost, limits, in_use):
        return (f"these settings need about {size(cost.peak_bytes)} of memory; {limits.place} allows "
                f"{size(limits.memory)} ({size(in_use)} of it in use)")
    budget = cfg.max_seconds and cfg.max_seconds / runs  # under a schedule, each run's share
    if budget and first_seconds(cost) > budget:
        share = f" (each of its {runs} runs' share)" if runs > 1 else ""
        return (f"a training step of these settings and the one batch of validation every training gets take "
                f"about {duration(first_seconds(cost))}, more than the time budget of {duration(budget)}{share}")
    return None


def fitting_change(m: ModelConfig, cfg, fits, vocab_size_at=None) -> str | None:
    """The first single change, from the least to the most drastic, for which
    fits(model_config, train_config) is true; None if none does."""
    def halvings(value, low, multiple=1):
        while value // 2 >= low:
            value //= 2
            yield value - value % multiple

    for b in halvings(cfg.batch_size, 1):
        if fits(m, replace(cfg, batch_size=b)):
            return f"a batch size of {b} fits"
    for t in halvings(cfg.seq_len, 5):
        if fits(m, replace(cfg, seq_len=t, stride=min(cfg.stride, t) if cfg.stride else None)):
            return f"a sequence length of {t} fits"
    if m.softmax == "full" and m.vocab_size >= 2000:
        if fits(replace(m, softmax="adaptive", cutoffs=None), cfg):
            return "the adaptive output layer fits"
    for h in halvings(m.hidden_size, 8, 8):
        if fits(replace(m, hidden_size=h, embed_dim=h if m.tie_weights else m.embed_dim), cfg):
            return f"a hidden size of {h} fits"
    for layers in range(m.num_layers - 1, 0, -1):
        if fits(replace(m, num_layers=layers), cfg):
            return f"{layers} LSTM layer{'s fit' if layers > 1 else ' fits'}"
    if vocab_size_at is not None:
        for min_count in (2, 3, 5, 10, 20):
            v = vocab_size_at(min_count)
            smaller = replace(m, vocab_size=v, cutoffs=None, softmax=m.softmax if v >= 2000 else "full")
            if 2 <= v < m.vocab_size and fits(smaller, cfg):
                return f"a min count of {min_count} fits ({v:,} words)"
    if not m.tie_weights:
        for e in halvings(m.embed_dim, 8, 8):
            if fits(replace(m, embed_dim=e), cfg):
                return f"an embedding size of {e} fits"
    return None


class Admission:
    """A server's admission control over its trainings: each is admitted against the memory left
    once the estimated peaks of the trainings running now are counted in as used, until it ends."""

    def __init__(self, limits: Limits, device: str):
        self.limits, self.device = limits, device
        self._running: dict[object, int] = {}  # the estimated peak memory of each training running now
        self._lock = threading.Lock()

    def admit(self, corpus, model_config: ModelConfig, cfg, runs: int = 1, time_scale: float = 1.0):
        """admit() for a training on `corpus` (a data.Corpus) of `runs` runs: (cfg capped, its Plan), or
        UserError."""
        with self._lock:
            in_use = memory_in_use() + sum(self._running.values())
        return admit(len(corpus.ids), model_config, cfg, self.limits, in_use=in_use, device=self.device,
                     word_counts=corpus.vocab.counts, vocab_size_at=corpus.vocab_size_at, runs=runs,
                     time_scale=time_scale)

    @contextmanager
    def reading(self, text_bytes: int):
        """Admit reading a text of `text_bytes` bytes into a corpus, and count its estimated peak as in use
        while the block reads it; UserError if it would take more than a session may, or than is left."""
        need, memory = TEXT_PEAK_PER_BYTE * text_bytes, self.limits.memory
        if self.limits.session_memory and need > self.limits.session_memory:
            most = self.limits.session_memory // TEXT_PEAK_PER_BYTE
            raise UserError(f"reading {size(text_bytes)} of text takes about {size(need)} of memory; "
                            f"{self.limits.place} allows {size(self.limits.session_memory)} per session, "
                            f"{size(most)} of text: give less text")
        key = object()
        with self._lock:
            in_use = memory_in_use() + sum(self._running.values())
            if memory and in_use + need > memory:
                raise UserError(f"reading {size(text_bytes)} of text takes about {size(need)} of memory, and "
                                f"{self.limits.place} has {size(max(0, memory - in_use))} free now: try again when a "
                                "training has ended, or give less text")
            self._running[key] = need
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)

    @contextmanager
    def running(self, job, cost: Plan):
        """Count `job`'s estimated peak as in use while the block runs."""
        with self._lock:
            self._running[job] = cost.peak_bytes
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(job, None)
