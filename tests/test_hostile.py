"""Resource attacks on a shared server, through the API as a stranger would send them.

One `python app.py`, started as on a small Space: WORDLSTM_MAX_MEMORY_MB=3000 and
the default 25 MB upload cap. Every hostile request ends with a clear message or
within the limits, the server answers another user after each, and its peak
memory (the resident set's high-water mark) stays under 3.5 GB throughout: the
3,000 MB limit plus the estimate's margin of error.
"""
import os
import random
import socket
import string
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("gradio")  # the app's tests: skipped without the app extra
from gradio_client import Client, handle_file  # noqa: E402
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.slow  # servers under attack, hundreds of requests: the full tier's

LIMIT_MB, PEAK_MB = 3000, 3584
BIGGEST = dict(epochs=1000, max_seconds=24 * 3600, seed=0, seq_len=400, stride=400, embed_dim=512, hidden_size=1024,
               num_layers=4, dropout=0.8, lr=0.1, batch_size=256, min_count=1, softmax="full")
PROBE = dict(prompt="Anna, and the prince", max_new_tokens=20, seed=1)


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "WORDLSTM_MAX_MEMORY_MB": str(LIMIT_MB),
           "WORDLSTM_MAX_UPLOAD": "25mb", "OMP_NUM_THREADS": "2"}
    log = tmp_path_factory.mktemp("server") / "log.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "app.py")], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    yield proc, f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def bystander(server):
    """Another user, who checks after each attack that the server still answers."""
    client = Client(server[1], verbose=False)

    def answers() -> bool:  # the prompt, then new words (punctuation joins the word before: fewer than 20)
        text = client.predict(**PROBE, api_name="/generate")[0]
        return text.lower().startswith(PROBE["prompt"].lower()) and len(text.split()) > len(PROBE["prompt"].split()) + 10
    return answers


def small_text(path, words=60_000, vocab=5000, seed=0):
    """A text of Zipf-distributed made-up words, a full stop every dozen."""
    rng = random.Random(seed)
    lexicon = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(vocab)]
    picks = rng.choices(lexicon, weights=[1 / (i + 1) for i in range(vocab)], k=words)
    path.write_text(" ".join(w + (" ." if i % 12 == 11 else "") for i, w in enumerate(picks)))
    return str(path)


def test_the_largest_value_of_every_slider_is_refused_quickly_with_what_fits(server, bystander):
    client = Client(server[1], verbose=False)
    client.predict(seq_len=100, api_name="/use_sample")  # the text is read first: only the refusal is timed
    start = time.perf_counter()
    with pytest.raises(Exception, match=r"these settings need about \d+ GB of memory; this server allows 3,000 MB "
                                        r"\(\d+ MB of it in use\); a batch size of \d+ fits"):
        client.predict(corpus=None, **BIGGEST, api_name="/train")
    assert time.perf_counter() - start < 5  # the bound: refused before anything runs
    assert bystander()


def test_the_live_estimate_says_the_same_before_training(server):
    client = Client(server[1], verbose=False)
    settings_only = {k: v for k, v in BIGGEST.items()}
    assert client.predict(**settings_only, api_name="/estimate").startswith("**Does not fit this server**")
    fine = client.predict(**{**settings_only, "hidden_size": 128, "embed_dim": 128, "num_layers": 3,
                             "batch_size": 32, "seq_len": 100, "softmax": "auto"}, api_name="/estimate")
    assert fine.startswith("**Estimate** on the sample, *Anna Karenina*") and "MB of memory" in fine, fine


def test_a_25_mb_corpus_of_unique_words_is_refused_with_a_message(server, bystander, tmp_path):
    rng, path = random.Random(0), tmp_path / "unique.txt"
    path.write_text(" ".join("".join(rng.choices(string.ascii_lowercase, k=8)) for _ in range(25 * 2**20 // 9)))
    client = Client(server[1], verbose=False)
    with pytest.raises(Exception, match=r"these settings need about .* of memory; this server allows 3,000 MB"):
        client.predict(corpus=handle_file(str(path)), **{**BIGGEST, "hidden_size": 128, "embed_dim": 128,
                                                         "num_layers": 1, "batch_size": 32, "seq_len": 100},
                       api_name="/train")
    assert bystander()


def test_a_25_mb_upload_without_whitespace_is_one_token_and_a_clear_message(server, bystander, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("a" * (25 * 2**20 - 1024))
    client = Client(server[1], verbose=False)
    with pytest.raises(Exception, match="the corpus has 1 token, too few for one window"):
        client.predict(corpus=handle_file(str(path)), epochs=1, max_seconds=5, api_name="/train")
    assert bystander()


def test_eight_clients_asking_for_the_most_tokens_at_once_all_get_them(server, bystander):
    texts, errors = [], []

    def ask(seed):
        try:
            texts.append(Client(server[1], verbose=False).predict(prompt="Anna", max_new_tokens=2000, seed=seed,
                                                                  api_name="/generate")[0])
        except Exception as e:  # counted, not raised in a thread
            errors.append(e)
    threads = [threading.Thread(target=ask, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    answered = bystander()  # while they run: the estimate queue is not theirs, the generate queue takes turns
    for t in threads:
        t.join()
    assert answered and not errors and len(texts) == 8
    assert all(len(t.split()) > 1000 for t in texts)


@pytest.fixture(scope="module")
def drawn(server, tmp_path_factory):
    """One user with a small text, who trains with settings hypothesis draws."""
    path = small_text(tmp_path_factory.mktemp("small") / "small.txt")
    return Client(server[1], verbose=False), path


SETTINGS = st.fixed_dictionaries(dict(
    epochs=st.integers(0, 2), max_seconds=st.integers(1, 4), seed=st.integers(0, 9),
    seq_len=st.integers(5, 400), stride=st.integers(0, 400), embed_dim=st.integers(1, 64).map(lambda k: 8 * k),
    hidden_size=st.integers(1, 128).map(lambda k: 8 * k), num_layers=st.integers(1, 4),
    dropout=st.sampled_from([0.0, 0.2, 0.5]), lr=st.sampled_from([1e-3, 5e-3]), batch_size=st.integers(1, 256),
    min_count=st.sampled_from([1, 2, 20]), softmax=st.sampled_from(["auto", "adaptive", "full"])))


HEAVY = {**BIGGEST, "epochs": 1, "max_seconds": 10, "hidden_size": 128, "embed_dim": 128, "num_layers": 1,
         "batch_size": 256, "seq_len": 120, "stride": 0, "dropout": 0.2}  # about 1.5 GB, yet a step of 2 s


def test_a_training_that_fits_runs_and_its_peak_is_near_the_estimate(server, drawn):
    client, path = drawn
    client.predict(corpus=handle_file(path), **HEAVY, api_name="/train")  # not refused
    note = client.predict(**{k: v for k, v in HEAVY.items()}, api_name="/estimate")
    estimate = float(note.split("about ")[1].split(" MB")[0].replace(",", ""))
    assert 1000 < estimate < 2500 and estimate / 2 < peak_mb(server[0].pid) <= PEAK_MB, note  # it did use memory


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SETTINGS)
@example({**BIGGEST, "epochs": 1, "max_seconds": 4})
@example(HEAVY)
def test_no_settings_take_the_server_past_its_memory_limit(server, drawn, settings_):
    client, path = drawn
    try:
        client.predict(corpus=handle_file(path), **settings_, api_name="/train")
    except Exception as e:  # refused: it must say why, in the words of the limits
        assert any(m in str(e) for m in ("of memory; this server allows", "more than the time budget",
                                         "too few for one window", "needs a vocabulary of 2,000")), str(e)
    assert server[0].poll() is None
    assert peak_mb(server[0].pid) <= PEAK_MB
