"""The catalogue of bad inputs, through the app's API as a stranger would send them.

Each case checks the message (what was wrong, what to do) and that nothing was
lost: after it, the session's own model still generates exactly the same text.
The checkpoint cases also check that the folder on disk is unchanged.
(More, by layer: test_tokenizer/vocab/data/checkpoint/cli/hub.py.)
"""
import os
import zipfile

import pytest

pytest.importorskip("gradio")  # the app's tests: skipped without the app extra
from gradio_client import Client, handle_file  # noqa: E402

from conftest import HUB, TINY  # noqa: E402
from fakehub import TOKEN  # noqa: E402
from wordlstm.share.archive import pack  # noqa: E402

SETTINGS = dict(seq_len=10, embed_dim=16, hidden_size=16, num_layers=1, batch_size=4, dropout=0.0, lr=0.01)
PROBE = dict(prompt="the cat", max_new_tokens=15, temperature=0.8, top_k=40, top_p=1.0, seed=3)


@pytest.fixture(scope="module")
def session(url, tiny_checkpoint, tmp_path_factory):
    """One user with their own model loaded, and the text it generates."""
    client = Client(url, verbose=False)
    client.predict(handle_file(pack(tiny_checkpoint, tmp_path_factory.mktemp("zip") / "model.zip")), api_name="/upload_model")
    return client, client.predict(**PROBE, api_name="/generate")[0]


def file_of(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return handle_file(str(path))


def zip_of(tmp_path, folder, change):
    """A model zip built from `folder`'s files after `change(files)` edits the dict."""
    files = {n: (folder / n).read_bytes() for n in ("model.safetensors", "config.json", "vocab.json")}
    change(files)
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:  # bzip2: a 201 MB bomb packs into a few kB
        for n, data in files.items():
            zf.writestr(n, data)
    return handle_file(str(path))


def drop(name):
    return lambda files: files.pop(name)


def put(name, data):
    return lambda files: files.__setitem__(name, data(files) if callable(data) else data)


def other_vocab(files):
    import json
    v = json.loads(files["vocab.json"])
    v["itos"], v["counts"] = v["itos"] + ["extra"], v["counts"] + [1]
    return json.dumps(v).encode()


def other_shape(files):
    import json
    c = json.loads(files["config.json"])
    c["model"]["hidden_size"] = 24
    return json.dumps(c).encode()


CORPORA = [  # (label, file name, content, message)
    ("empty", "a.txt", b"", "empty"),
    ("whitespace only", "a.txt", b" \n\t\r\n   ", "empty or only whitespace; give a text with some words"),
    ("binary with NULs", "a.txt", b"\x00\x01\x02ab\x00", "binary"),
    ("latin-1", "a.txt", "caf\xe9 na\xefve ".encode("latin-1") * 50, "not valid UTF-8"),
    ("UTF-16", "a.txt", "hello world ".encode("utf-16") * 50, "UTF-16"),
    ("over the size cap", "a.txt", b"word " * 50_000, "exceeds the maximum file size of 204800 bytes"),
    ("not a .txt", "a.pdf", b"%PDF-1.4 ...", "txt"),
]
ODD_BUT_FINE = [  # texts that are odd but readable: accepted and described (too short ones say so)
    ("one giant token", "a" * 50_000, "1 token, 1 distinct word; **cannot train yet:** the corpus has 1 token, "
                                      "too few for one window of seq_len=10"),
    ("CJK without spaces", "\u4e00\u4e8c\u4e09\u56db\u4e94 " * 3, "cannot train yet:** the corpus has 3 tokens"),
    ("one word repeated", "parrot " * 300, "300 tokens, 1 distinct word;"),
    ("punctuation only", ", . ! ? ; : " * 100, "6 distinct words"),
    ("emoji only", "\U0001f600 \U0001f389 \U0001f680 " * 100, "3 distinct words"),
]
# Gradio checks its components' ranges before our code runs, with its own message;
# what only we can check (lr, whose field has no range) has ours.
TRAIN_SETTINGS = [  # (setting, bad value, message)
    ("epochs", -1, "Value -1 is less than minimum value 0"), ("max_seconds", -5, "Value -5 is less than minimum"),
    ("seq_len", 0, "Value 0 is less than minimum value 5"), ("batch_size", 0, "Value 0 is less than minimum value 1"),
    ("lr", 0, "lr must be positive"), ("dropout", 1.0, "Value 1.0 is greater than maximum value 0.8"),
    ("embed_dim", 0, "Value 0 is less than minimum value 8"), ("hidden_size", 0, "less than minimum value 8"),
    ("num_layers", 0, "Value 0 is less than minimum value 1"), ("min_count", 0, "less than minimum value 1"),
    ("softmax", "bogus", "bogus is not in the list of choices"), ("stride", -3, "Value -3 is less than minimum"),
]
GENERATE_SETTINGS = [
    ("max_new_tokens", 5000, "Value 5000 is greater than maximum value 2000"),
    ("temperature", -1, "Value -1 is less than minimum value 0"), ("top_k", -1, "Value -1 is less than minimum"),
    ("top_p", 0, "Value 0 is less than minimum value 0.05"), ("top_p", 1.5, "Value 1.5 is greater than maximum"),
]
PROMPTS = [("", "the prompt is empty; type a few words to start from"),
           ("zyx qwv", r"none of the prompt's words is in the model's vocabulary \('zyx', 'qwv'\); try words")]
MODEL_ZIPS = [  # (label, change, message)
    ("missing vocab.json", drop("vocab.json"), "lacks vocab.json"),
    ("truncated weights", put("model.safetensors", lambda f: f["model.safetensors"][:200]), "cannot be loaded"),
    ("wrong shape", put("config.json", other_shape), "cannot be loaded"),
    ("vocabulary and model mismatch", put("vocab.json", other_vocab), "do not belong together"),
    ("pickle renamed .safetensors", put("model.safetensors", b"\x80\x04\x95pickle-bytes."), "cannot be loaded"),
    ("a ../ entry", put("../evil.txt", b"x"), "unsafe entry"),
    ("a zip bomb", put("vocab.json", b"\0" * (201 * 2**20)), "more than 200 MB"),
]


def still_the_same(session):
    client, text = session
    assert client.predict(**PROBE, api_name="/generate")[0] == text


@pytest.mark.parametrize("label, name, content, message", CORPORA, ids=[c[0] for c in CORPORA])
def test_bad_corpora(session, tmp_path, label, name, content, message):
    with pytest.raises(Exception, match=message):
        session[0].predict(file_of(tmp_path, name, content), 10, api_name="/upload_corpus")
    still_the_same(session)


@pytest.mark.parametrize("label, text, message", ODD_BUT_FINE, ids=[c[0] for c in ODD_BUT_FINE])
def test_odd_corpora_are_accepted(session, tmp_path, label, text, message):
    stats, _ = session[0].predict(file_of(tmp_path, "odd.txt", text), 10, api_name="/upload_corpus")
    assert message in stats
    still_the_same(session)


@pytest.mark.parametrize("setting, value, message", TRAIN_SETTINGS, ids=[s[0] for s in TRAIN_SETTINGS])
def test_train_settings_out_of_range(session, tmp_path, setting, value, message):
    args = {**SETTINGS, "epochs": 1, "max_seconds": 2, "seed": 0, setting: value}
    with pytest.raises(Exception, match=message):
        session[0].predict(corpus=file_of(tmp_path, "t.txt", TINY), **args, api_name="/train")
    still_the_same(session)


@pytest.mark.parametrize("setting, value, message", GENERATE_SETTINGS, ids=[f"{s[0]}={s[1]}" for s in GENERATE_SETTINGS])
def test_generate_settings_out_of_range(session, setting, value, message):
    with pytest.raises(Exception, match=message):
        session[0].predict(**{**PROBE, setting: value}, api_name="/generate")
    still_the_same(session)


@pytest.mark.parametrize("prompt, message", PROMPTS, ids=["empty", "all unknown"])
def test_bad_prompts(session, prompt, message):
    with pytest.raises(Exception, match=message):
        session[0].predict(**{**PROBE, "prompt": prompt}, api_name="/generate")
    still_the_same(session)


def test_a_20000_word_prompt_is_fed_once_and_answered(session):
    text, _ = session[0].predict(**{**PROBE, "prompt": "the cat sat on the mat . " * 3334}, api_name="/generate")
    assert len(text.split()) > 20_000
    still_the_same(session)


@pytest.mark.parametrize("label, change, message", MODEL_ZIPS, ids=[m[0] for m in MODEL_ZIPS])
@pytest.mark.slow
def test_bad_model_zips(session, tiny_checkpoint, tmp_path, label, change, message):
    folder = tiny_checkpoint
    before = {n: (folder / n).read_bytes() for n in os.listdir(folder)}
    with pytest.raises(Exception, match=message):
        session[0].predict(zip_of(tmp_path, folder, change), api_name="/upload_model")
    still_the_same(session)
    assert {n: (folder / n).read_bytes() for n in os.listdir(folder)} == before  # the checkpoint on disk


@pytest.mark.parametrize("repo_id, token, message", [
    ("not a repo id", TOKEN, "is not a valid Hub repo id"),
    ("alice/x", "", "pushing needs a Hugging Face token"),
    ("alice/x", "hf_wrong", "the Hub refused the token"),
], ids=["bad repo id", "no token", "refused token"])
def test_bad_hub_pushes(session, hub, repo_id, token, message):
    with pytest.raises(Exception, match=message):
        session[0].predict(repo_id, False, False, token, api_name="/push_to_hub")
    assert hub.repos == {}
    still_the_same(session)


def test_hub_down(session, hub):
    with HUB.down():
        with pytest.raises(Exception, match="cannot reach the Hub"):
            session[0].predict("alice/x", False, False, TOKEN, api_name="/push_to_hub")
    still_the_same(session)

