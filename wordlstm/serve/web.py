"""Gradio plumbing for the app: the library's errors as gr.Error, file inputs checked before gradio
opens them, handlers' inputs by name, the queue's first wait estimate and its polls while idle, and the
page's few lines of CSS.

The one module of the package that imports gradio (the app extra); nothing else imports it.
"""
import functools
import inspect
import threading

import gradio as gr

from ..errors import UserError
from .uploads import named_path


def user_error(fn):
    """Turn the library's UserError into a gr.Error with the same message.

    functools.wraps keeps the signature, which gives the API its parameter
    names; generators stay generators, so their output still streams."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapped_generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except UserError as e:
                raise gr.Error(str(e)) from None
        return wrapped_generator

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            raise gr.Error(str(e)) from None
    return wrapped


class Blocks(gr.Blocks):
    """gr.Blocks that checks every file a request names before gradio touches it.

    Gradio refuses a path outside its upload folder too, but as an internal error
    ("the upstream app raised an exception"), and it downloads a URL given as a
    path. Here both get the app's one-line message, before anything is opened."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        inputs = list(inputs)
        for i, (block, value) in enumerate(zip(block_fn.inputs, inputs)):
            if isinstance(block, gr.File):
                if block.file_count == "multiple" and isinstance(value, (dict, str)):
                    inputs[i] = value = [value]  # one file where several may come: the API as it was
                for one in value if isinstance(value, list) else [value]:
                    user_error(named_path)(one, self.GRADIO_CACHE)
        return await super().preprocess_data(block_fn, inputs, state, explicit_call)


def inputs_for(fn, **components) -> list:
    """`fn`'s input components in the order of its parameters, named: a list
    written by hand could silently feed a value to the wrong parameter."""
    names = [p for p in inspect.signature(fn).parameters if p not in ("progress", "oauth_token")]
    if sorted(names) != sorted(components):
        raise TypeError(f"{fn.__name__} takes {names}; got components for {sorted(components)}")
    return [components[name] for name in names]


def private_state(demo: gr.Blocks, factory):
    """gr.State(factory) makes each new page call factory() through a load event, which gradio
    would list as a public endpoint: nobody else has a use for it."""
    for fn in demo.fns.values():
        if fn.fn is factory:
            fn.api_visibility = "private"
    demo.config = demo.get_config_file()


def poll_calmly(demo: gr.Blocks, free: float = 0.05, progress: float = 0.1):
    """Let gradio's queue, while nothing is queued, look for work every `free` seconds and for progress every
    `progress` (its defaults off Windows, 1 ms and 10 ms, kept an idle app at 3-5% of a core; these are its
    Windows ones, about, and a request waits at most `free` longer to start). Gradio has no setting for them."""
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, free)
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, progress)


def serve_until_interrupted(demo: gr.Blocks):
    """Serve until Ctrl-C, then close: launch()'s own wait (block_thread) wakes ten times a second."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        demo.close()


def expect_to_take(demo: gr.Blocks, api_name: str, seconds: float):
    """Seed the queue's wait estimate for `api_name`: gradio shows a queued user their
    position and, from the mean time of the calls so far, the wait. Until a first
    call ends it has no mean and shows no wait; the page's default budget is a fair
    first guess for a training (gradio keeps no public setter for it)."""
    queue = getattr(demo, "_queue", None)
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)
    if queue is not None and fn not in queue.process_time_per_fn:
        queue.process_time_per_fn[fn].add(seconds)


# Gradio lays highlighted text out as a row of boxes that break anywhere ("an|d"): the score's and the copies'
# views flow as text, and break between words only.
CSS = """
#copies .textfield, #surprise .textfield { display: block; word-break: normal; overflow-wrap: anywhere; }
#copies .token-container, #surprise .token-container { display: inline; }
.training-progress progress { width: 100%; height: 0.9em; }
"""
