"""Training on a ZeroGPU Space, where a GPU exists only inside a function wrapped with `spaces.GPU`,
which runs in a worker process for a lease of a given number of seconds, out of the visitor's daily
quota (about 2 minutes anonymous, 3.5 signed in, 25 PRO).

So a training moves through leases of at most WORDLSTM_GPU_CHUNK_SECONDS each (default 60, a
ZeroGPU call's default): in each, the run trains until the lease is nearly up, then pauses
(loop.run's `pause`) and hands its state back as CPU tensors, and the next lease resumes it exactly;
the curve and the progress bar go on across them. Between leases this process sees the Stop button:
a stopped training ends at the end of the chunk it falls in. Where ZeroGPU refuses a lease (quota
exceeded, illegal duration, no GPU), the status says so and the training goes on on the CPU from where
it stood: nothing is lost.

The app wraps `train_chunk` with `spaces.GPU(duration=lease_seconds)` at start-up (ZeroGPU registers
its functions then). Only picklable things cross into the worker and back: token ids, the configs, the
state, the events, and at the end a CPU state dict with the TrainResult, never the model object.
"""
import functools
import os
import time
from dataclasses import replace

from ..model.lstm import WordLSTM
from ..training import loop
from ..training.events import Paused
from ..training.runner import TrainingThread
from ..training.trainer import train, trained_config

MARGIN = 15  # seconds of a lease kept for its start (CUDA, the model) and for handing the state back
REFUSALS = ("zerogpu", "quota", "illegal duration", "no gpu")  # what the `spaces` package's refusals say
clock = time.monotonic  # a lease's clock (tests count steps with one of their own)


def chunk_seconds() -> float:
    """The longest GPU lease asked for, in seconds (WORDLSTM_GPU_CHUNK_SECONDS, default 60)."""
    return float(os.environ.get("WORDLSTM_GPU_CHUNK_SECONDS", "60"))


def lease_seconds(*args) -> float:
    """The lease train_chunk asks for: one chunk, whatever the training's budget."""
    return chunk_seconds()


def train_chunk(ids, model_config, cfg, state, sampler, init, stop):
    """One run of loop.run inside a lease, from `state` (None: its start), until the lease is nearly up;
    `stop`: end it now. Yields its events, then ("paused", TrainState) or ("done", CPU weights, TrainResult)."""
    deadline = clock() + max(chunk_seconds() / 4, chunk_seconds() - MARGIN)
    run = functools.partial(loop.run, resume=state, pause=lambda: clock() >= deadline)
    job = TrainingThread(ids, model_config, cfg, run=run, sampler=sampler, init=init)
    if stop:
        job.stop.set()
    for events in job.events():
        yield from events
    if isinstance(job.error, Paused):
        yield "paused", job.error.state
    elif job.error is not None:
        raise job.error
    else:
        yield "done", {k: v.cpu() for k, v in job.model.state_dict().items()}, job.result


def refusal(error: Exception) -> str | None:
    """ZeroGPU's reason, where `error` is its refusal of a lease; else None. The `spaces` package raises
    gr.Error(message, title="ZeroGPU quota exceeded"): the title says which refusal, the message why."""
    title, message = getattr(error, "title", None), getattr(error, "message", None) or str(error)
    text = f"{title}: {message}" if isinstance(title, str) and title else message
    return text if any(r in text.lower() for r in REFUSALS) else None


class Chunked:
    """Trains runs as loop.run does (train()'s `run`), through `leased`, the spaces.GPU-wrapped
    train_chunk: chunk after chunk, and on the CPU from where a run stood once ZeroGPU refuses."""

    def __init__(self, leased):
        self.leased, self.refused = leased, None  # ZeroGPU's refusal: then every later chunk trains here

    def __call__(self, ids, model_config, cfg, *, on_event=None, should_stop=None, sampler=None, init=None, **_):
        should_stop, state = should_stop or (lambda: False), None
        while self.refused is None:
            try:
                outcome = relay_chunk(self.leased(ids, model_config, cfg, state, sampler,
                                                  init if state is None else None, should_stop()),
                                      on_event, first=state is None)
            except Exception as e:  # a refusal is said and training goes on here; anything else is an error
                self.refused = refusal(e)
                if self.refused is None:
                    raise
                break
            if outcome[0] == "done":
                model = WordLSTM(trained_config(ids, model_config, cfg))
                model.load_state_dict(outcome[1])
                return model, outcome[2]
            state = outcome[1]
        note = f"ZeroGPU refused a GPU ({self.refused}), so it trains on the CPU from where it stood"

        def noted(e):
            if on_event is not None:
                on_event(replace(e, note=note))
        # On the CPU by name: in a ZeroGPU Space's main process the `spaces` package makes
        # torch.cuda.is_available() say True, so "auto" would pick a GPU that is not there.
        model, result = loop.run(ids, model_config, replace(cfg, device="cpu"), on_event=noted,
                                 should_stop=should_stop, sampler=sampler, init=init if state is None else None,
                                 resume=state)
        return model, replace(result, note=note)


def relay_chunk(items, on_event, first: bool):
    """Hand a chunk's events to `on_event` (a resumed chunk's "start" is no news), and return its outcome."""
    outcome = None
    for item in items:
        if isinstance(item, tuple):
            outcome = item
        elif on_event is not None and (first or item.kind != "start"):
            on_event(item)
    if outcome is None:
        raise RuntimeError("the GPU training ended without its result")
    return outcome


def training_function():
    """What trains for the app: train(), or on a ZeroGPU Space (the `spaces` package there and
    SPACES_ZERO_GPU set) train() through GPU leases. spaces.GPU must wrap its function at
    start-up, when ZeroGPU registers them: call this when the app is built."""
    try:
        import spaces
    except ImportError:
        return train
    if not os.environ.get("SPACES_ZERO_GPU"):
        return train
    return in_leases(spaces.GPU(duration=lease_seconds)(train_chunk))


def in_leases(leased):
    """train() with each run through `leased` (Chunked), for TrainingThread."""
    def run_training(ids, model_config, cfg, **kwargs):
        return train(ids, model_config, cfg, run=Chunked(leased), **kwargs)
    return run_training
