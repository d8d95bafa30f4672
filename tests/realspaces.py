"""A training through the real `spaces` package (0.51), as on a ZeroGPU Space, against a fake device API
that refuses every lease the way ZeroGPU's does. Run as a script in its own process (test_spaces.py),
since the package patches torch when it is imported:

    python tests/realspaces.py quota|illegal|nogpu [app]

trains, and prints one JSON line: what the device API was asked, the training's note, and whether its
model is the one train() makes on the CPU from the same seed; with `app`, serves the app instead and
prints its URL (space_app, for the tests that drive the app over its API or in a browser).

What is real: spaces.GPU, its wrapper and client.schedule, which asks the device API for a lease
(POST /schedule) and turns its answer into the refusal (gr.Error with a title) that wordlstm reads.
What is not: the package's torch emulation (spaces.zero.torch), which needs a CUDA build of torch. It is
replaced by the no-ops the package itself falls back to without torch, but for the one part that
matters here: in a Space's main process torch.cuda.is_available() says True.
"""
import contextlib
import importlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

ANSWERS = {  # the device API's answer to POST /schedule: (status, JSON body)
    "quota": (429, {"left": 20, "wait": 30}),  # the visitor has 20 s left, of the 60 asked for
    "illegal": (429, {"left": 20, "wait": -1}),  # a negative wait: more than a call may ask for
    "nogpu": (503, {}),
}


class DeviceAPI(BaseHTTPRequestHandler):
    mode, asked = "quota", []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.asked.append(self.path)
        status, body = ANSWERS[self.mode] if self.path.startswith("/schedule") else (200, {})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def emulation() -> types.ModuleType:
    """spaces.zero.torch as the package has it without torch (its own fallback), but for patch()."""
    module = types.ModuleType("spaces.zero.torch")
    nothing = lambda *args, **kwargs: None  # noqa: E731

    def patch():
        torch.cuda.is_available = lambda: True

    module.__dict__.update(enter_mode=nothing, patch=patch, unpatch=nothing, pack=lambda: 0, init=nothing,
                           size=lambda: 0, move=nothing, is_in_bad_fork=lambda: False)
    return module


def as_on_a_space(mode: str):
    """This process as a ZeroGPU Space's main process, its device API answering `mode`'s way."""
    DeviceAPI.mode = mode
    server = ThreadingHTTPServer(("127.0.0.1", 0), DeviceAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cgroup = os.path.join(tempfile.mkdtemp(), "cgroup")  # what the client names its container by
    with open(cgroup, "w") as f:
        f.write("0::/space\n")
    os.environ.update(SPACES_ZERO_GPU="true", SPACES_ZERO_DEVICE_API_URL=f"http://127.0.0.1:{server.server_port}",
                      ZEROGPU_PROC_SELF_CGROUP_PATH=cgroup)
    sys.modules["spaces.zero.torch"] = emulation()
    importlib.import_module("spaces")  # first, as on a Space: it patches torch; training_function finds it


def train_here():
    """A training as the app runs it, then the same on the CPU with train(): one JSON line."""
    from wordlstm import ModelConfig, TrainConfig, corpus_from_text, train
    from wordlstm.serve import zerogpu
    from wordlstm.training.runner import TrainingThread

    corpus = corpus_from_text("the cat sat on the mat . a dog ran . " * 60, name="tiny")
    model_cfg = ModelConfig(len(corpus.vocab), 16, 16, 1, 0.0)
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=2)
    job = TrainingThread(corpus.ids, model_cfg, cfg, run=zerogpu.training_function())
    notes = [e.note for batch in job.events(every=0.2) for e in batch if e.note]
    if job.error is not None:
        print(json.dumps({"error": repr(job.error)}))
        return
    model, _ = train(corpus.ids, model_cfg, TrainConfig(seq_len=10, batch_size=4, epochs=2, device="cpu"))
    same = all(torch.equal(w, model.state_dict()[k]) for k, w in job.model.state_dict().items())
    print(json.dumps({"asked": DeviceAPI.asked, "note": job.result.note, "event_notes": len(notes),
                      "same_model": same, "device": job.result.device}))


def serve_the_app():
    """The app, launched as on the Space; prints its URL, then serves until stdin closes."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # app.py, at the top
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    print(json.dumps({"url": f"http://127.0.0.1:{port}/"}), flush=True)
    sys.stdin.read()
    print(json.dumps({"asked": DeviceAPI.asked}), flush=True)


@contextlib.contextmanager
def space_app(mode: str):
    """The app served in a process of its own as on a ZeroGPU Space whose device API answers `mode`'s way.
    Yields its URL and a list which, once the app has stopped, holds the paths the device API was asked."""
    asked = []
    space = subprocess.Popen([sys.executable, os.path.abspath(__file__), mode, "app"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        yield json.loads(space.stdout.readline())["url"], asked
    finally:
        space.stdin.close()
        asked += json.loads(space.stdout.readline() or "{}").get("asked", [])
        space.wait(timeout=60)


if __name__ == "__main__":
    as_on_a_space(sys.argv[1])
    serve_the_app() if sys.argv[2:] == ["app"] else train_here()
