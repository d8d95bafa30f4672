"""Training on a ZeroGPU Space, where a GPU exists only inside a function
wrapped with `spaces.GPU`, which runs in a worker process for a lease of a
given number of seconds.

The app wraps `train_in_lease` with `spaces.GPU(duration=lease_seconds)` at
start-up (ZeroGPU registers its functions then) and hands `runner(wrapped)` to
TrainingThread. Only picklable things cross into the worker and back: token
ids, the two configs, the events, and at the end a CPU state dict with the
TrainResult, never the model object; the live sampler and a warm start's weights pickle too. The worker cannot see the Stop button:
there, training ends with its time budget.
"""
import os
from dataclasses import replace

from .model import WordLSTM
from .runner import TrainingThread
from .train import train, trained_config


def max_lease() -> int:
    """The longest GPU lease asked for, in seconds (WORDLSTM_GPU_MAX_SECONDS, default 300)."""
    return int(os.environ.get("WORDLSTM_GPU_MAX_SECONDS", "300"))


def budget(cfg) -> float:
    """The training time that fits in one lease."""
    return min(cfg.max_seconds or max_lease(), max_lease())


def lease_seconds(ids, model_cfg, cfg, sampler=None, init=None) -> int:
    """The lease for one training: its time budget plus a margin for start-up and the last validation."""
    return int(budget(cfg)) + 30


def train_in_lease(ids, model_cfg, cfg, sampler=None, init=None):
    """train() inside the lease: yields its events, then (CPU state dict, TrainResult)."""
    job = TrainingThread(ids, model_cfg, replace(cfg, max_seconds=budget(cfg)), sampler=sampler, init=init)
    for events in job.events():
        yield from events
    if job.error is not None:
        raise job.error
    yield {k: v.cpu() for k, v in job.model.state_dict().items()}, job.result


def runner(leased):
    """A run function for TrainingThread that trains through `leased`, the
    spaces.GPU-wrapped train_in_lease, and rebuilds the model here."""
    def run(ids, model_cfg, cfg, on_event, should_stop, sampler=None, init=None):  # should_stop cannot reach it
        for item in leased(ids, model_cfg, cfg, sampler, init):
            if isinstance(item, tuple):  # the last item: the weights and the result
                state, result = item
                model = WordLSTM(trained_config(ids, model_cfg, cfg))
                model.load_state_dict(state)
                return model, result
            on_event(item)
        raise RuntimeError("the GPU training ended without its result")
    return run


def training_function():
    """What trains for the app: train(), or on a ZeroGPU Space (the `spaces` package there and
    SPACES_ZERO_GPU set) a runner through a GPU lease. spaces.GPU must wrap its function at
    start-up, when ZeroGPU registers them: call this when the app is built."""
    try:
        import spaces
    except ImportError:
        return train
    if not os.environ.get("SPACES_ZERO_GPU"):
        return train
    return runner(spaces.GPU(duration=lease_seconds)(train_in_lease))
