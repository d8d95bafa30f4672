import os
import socket
import sys
import tempfile

import pytest
import torch

from fakehub import FakeHub

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The suite's expectations (where a run trained, the numbers it pins, what fits in memory) are the CPU's,
# so a machine's GPU is hidden from it and from the servers and commands it starts; CUDA reads this when
# first used, not when torch is imported. CUDA_VISIBLE_DEVICES=0 python -m pytest shows it the GPU.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["WORDLSTM_MAX_UPLOAD"] = "200kb"  # the app's upload cap, small enough to test
os.environ["WORDLSTM_MAX_MEMORY_MB"] = "3000"  # as on a small shared server, whatever this machine has
os.environ.pop("WORDLSTM_MAX_TRAIN_SECONDS", None)
# The Hub is a local fake (tests/fakehub.py), with its own cache and no saved
# token. huggingface_hub reads these when it is imported, so they go first.
HUB = FakeHub()
os.environ.update(HF_ENDPOINT=HUB.url, HF_HOME=tempfile.mkdtemp(prefix="hf-home-"), HF_HUB_OFFLINE="0",
                  HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
os.environ.pop("HF_TOKEN", None)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from wordlstm import ModelConfig, Vocab, WordLSTM, corpus_from_text, save_checkpoint  # noqa: E402
from wordlstm.training.device import device_name, use_bf16  # noqa: E402

ANNA = os.path.join(ROOT, "data", "anna.txt")
# How a training on this machine's CPU names where it ran: with auto precision, in bf16 where the CPU has AMX.
CPU_BF16 = use_bf16(torch.device("cpu"))
CPU = device_name(torch.device("cpu"), CPU_BF16)

# A tiny text with a small, repetitive vocabulary: quick to learn by heart.
TINY = ("the cat sat on the mat . the dog ate the bone , and the bird sang a song ! "
        "\"where is the cat ?\" asked the dog . the cat is on the mat . ") * 12
# A text whose held-out tail has words the training text never has (and whose training text has words
# seen once, Good-Turing's evidence that new words come): the unseen words' share is on for it.
ONCE = " a quirk by the plinth ."
NEW = " the zebra and the yak met the gnu , and the zebra ran ."
WITH_NEW_WORDS = TINY * 2 + ONCE + TINY + NEW * 2


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)  # small models: threads cost more than they give, and results are repeatable


@pytest.fixture(scope="session")
def tiny_corpus():
    return corpus_from_text(TINY, name="tiny")


@pytest.fixture
def tiny_model(tiny_corpus):
    torch.manual_seed(0)
    return WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 2, 0.0))


@pytest.fixture(scope="session")
def tiny_vocab(tiny_corpus) -> Vocab:
    return tiny_corpus.vocab


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_corpus):
    """A checkpoint folder of a small untrained model; tests read it and never write to it."""
    path = tmp_path_factory.mktemp("tiny") / "ck"
    save_checkpoint(path, WordLSTM(ModelConfig(len(tiny_corpus.vocab), 16, 16, 1, 0.0)), tiny_corpus.vocab)
    return path


@pytest.fixture
def hub():
    """The fake Hub, up and answering, with no repos."""
    HUB.repos.clear()
    HUB.requests.clear()
    HUB.fail_with = None
    yield HUB
    HUB.fail_with = None


@pytest.fixture(scope="module")
def url():
    """The app, launched in this process on a free port; without the app extra, its tests skip."""
    pytest.importorskip("gradio")
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()
