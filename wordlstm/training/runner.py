"""Training in a background thread, for front ends that poll (the app, a ZeroGPU lease)."""
import queue
import threading
from collections.abc import Iterator

import torch

from ..model.lstm import ModelConfig
from .config import TrainConfig
from .events import Event
from .trainer import train


class TrainingThread:
    """Runs a training in a background thread, for front ends that poll.

    `run(ids, model_config, cfg, on_event=, should_stop=, sampler=, init=, **options)` returns (model,
    result): train() by default (options: its schedule), or one that trains elsewhere (serve/zerogpu.py).
    The caller reads `events()`, sets `stop` to end training cleanly, and finds
    `model` and `result` (or `error`) once `done`.
    """

    def __init__(self, ids: torch.Tensor, model_config: ModelConfig, cfg: TrainConfig, run=None, sampler=None,
                 init: dict | None = None, **options):
        self.stop = threading.Event()
        self.model = self.result = self.error = None
        self._events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(run or train, ids, model_config, cfg, sampler, init, options),
                                        daemon=True, name="wordlstm-training")
        self._thread.start()

    def _run(self, run, ids, model_config, cfg, sampler, init, options):
        try:
            self.model, self.result = run(ids, model_config, cfg, on_event=self._events.put,
                                          should_stop=self.stop.is_set, sampler=sampler, init=init, **options)
        except Exception as e:  # handed to the caller, who owns the error reporting
            self.error = e
        finally:
            self._events.put(None)  # the end of the stream

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def events(self, every: float = 1.0) -> Iterator[list[Event]]:
        """The events as they come, in lists: each holds what was queued when the
        first of them arrived, or nothing after `every` seconds without one (a
        front end can still refresh, and notice a client that went away).
        Ends once the training has ended."""
        while True:
            try:
                batch = [self._events.get(timeout=every)]
            except queue.Empty:
                yield []
                continue
            while batch[-1] is not None and not self._events.empty():
                batch.append(self._events.get_nowait())
            if batch[-1] is None:  # the end of the stream
                yield batch[:-1]
                return
            yield batch
