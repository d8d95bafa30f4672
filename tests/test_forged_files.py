"""Forged requests: every file a request names must be one this session uploaded.

A client can write any path into a FileData by hand, never touching gradio's
upload route. Each forgery below, on each route that takes a file, must be
refused with one clean line, and the file it points at must never be opened:
an audit hook watches every open() in this process, the server's included.
"""
import os
import sys

import pytest

pytest.importorskip("gradio")
import httpx  # noqa: E402  (gradio's client library: it comes with the app extra)
from gradio.utils import get_upload_folder  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from conftest import TINY  # noqa: E402

REFUSED = "was not uploaded in this session; upload the file through the page, or with gradio_client's handle_file()"
WATCHED: set[str] = set()  # real paths that must never be opened
OPENED: list[str] = []


def _audit(event, args):
    if event == "open" and WATCHED and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path in WATCHED:
            OPENED.append(path)


sys.addaudithook(_audit)  # hooks stay for the life of the process; this one only records WATCHED paths


@pytest.fixture
def forging(monkeypatch):
    """gradio_client uploads any local file a FileData names before sending it; an
    attacker's client sends the FileData as written. So do ours, in these tests."""
    from gradio_client.client import Endpoint
    monkeypatch.setattr(Endpoint, "_upload_file", lambda self, f, data_index: f)


def file_data(path: str, **extra) -> dict:
    """A FileData as a client can write it by hand."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}, **extra}


@pytest.fixture
def secrets(tmp_path):
    """A private .txt and a private model .zip outside gradio's upload folder, watched for opens."""
    from wordlstm import ModelConfig, WordLSTM, corpus_from_text, save_checkpoint
    from wordlstm.share.archive import pack
    text = tmp_path / "private" / "secret.txt"
    text.parent.mkdir()
    text.write_text("the password is swordfish . " * 50)
    corpus = corpus_from_text(TINY)
    folder = save_checkpoint(tmp_path / "ck", WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1)), corpus.vocab)
    model = pack(folder, tmp_path / "private" / "secret.zip")
    WATCHED.update({os.path.realpath(text), os.path.realpath(model)})
    OPENED.clear()
    yield {".txt": str(text), ".zip": model}
    assert OPENED == [], f"the server opened {OPENED}"
    WATCHED.clear()


def forgeries(target: str, suffix: str) -> dict:
    """Ways to name `target` (outside the upload folder) in a request."""
    uploads = get_upload_folder()
    os.makedirs(os.path.join(uploads, "forged"), exist_ok=True)
    link = os.path.join(uploads, "forged", f"link{suffix}")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)
    return {
        "absolute": file_data(target),
        "relative": file_data(os.path.relpath(target)),
        "dot-dot": file_data(os.path.join(uploads, os.path.relpath(target, uploads))),
        "symlink in the upload folder": file_data(link),
        "url field": file_data(f"inside{suffix}", url=f"http://127.0.0.1:9/inside{suffix}"),
        "URL as the path": file_data(f"http://127.0.0.1:9/secret{suffix}"),
    }


CASES = ["absolute", "relative", "dot-dot", "symlink in the upload folder", "url field", "URL as the path"]
ROUTES = {  # route -> (suffix, call with the file)
    "/train": (".txt", lambda c, f: c.predict(corpus=f, epochs=1, max_seconds=2, seed=0, api_name="/train")),
    "/upload_corpus": (".txt", lambda c, f: c.predict(f, 10, api_name="/upload_corpus")),
    "/upload_model": (".zip", lambda c, f: c.predict(f, api_name="/upload_model")),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_a_forged_path_is_refused_and_never_opened(url, secrets, forging, route, case):
    suffix, call = ROUTES[route]
    forged = forgeries(secrets[suffix], suffix)[case]
    with pytest.raises(Exception) as e:
        call(Client(url, verbose=False), forged)
    message = str(e.value)
    assert REFUSED in message and "\n" not in message.strip(), message


def upload(url: str, path: str) -> str:
    """What gradio_client's handle_file does first: the upload route, which answers with the server's path."""
    with open(path, "rb") as f:
        r = httpx.post(url + "gradio_api/upload", files={"files": (os.path.basename(path), f)})
    r.raise_for_status()
    return r.json()[0]


def test_another_sessions_upload_is_refused(url, forging, tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text(TINY)
    path = upload(url, str(mine))
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    stats, _ = alice.predict(file_data(path), 10, api_name="/upload_corpus")
    assert "mine.txt" in stats  # alice's own upload: accepted, and now hers
    with pytest.raises(Exception, match=REFUSED):
        bob.predict(corpus=file_data(path), epochs=1, max_seconds=2, seed=0, api_name="/train")
    with pytest.raises(Exception, match=REFUSED):
        bob.predict(file_data(path), 10, api_name="/upload_corpus")
    status = alice.predict(corpus=file_data(path), epochs=1, max_seconds=2, seed=0, seq_len=10, embed_dim=8,
                           hidden_size=8, num_layers=1, api_name="/train")[0]
    assert status.startswith("Done")  # naming it again is fine for its owner


@pytest.mark.parametrize("route", ["/upload_corpus", "/train"])
def test_a_forged_path_among_several_files_is_refused_and_never_opened(url, secrets, forging, tmp_path, route):
    mine = tmp_path / "mine.txt"
    mine.write_text(TINY)
    files = [file_data(upload(url, str(mine))), forgeries(secrets[".txt"], ".txt")["absolute"]]
    with pytest.raises(Exception, match=REFUSED):
        ROUTES[route][1](Client(url, verbose=False), files)


def test_another_sessions_model_zip_is_refused(url, secrets, forging):
    WATCHED.clear()  # here the zip is alice's to upload, and then the server may open her upload
    path = upload(url, secrets[".zip"])
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    assert "your model" in alice.predict(file_data(path), api_name="/upload_model")
    with pytest.raises(Exception, match=REFUSED):
        bob.predict(file_data(path), api_name="/upload_model")


def test_the_page_flow_still_works(url, tmp_path):
    """handle_file uploads, then names the upload: the ordinary client's way is unaffected."""
    mine = tmp_path / "mine.txt"
    mine.write_text(TINY)
    c = Client(url, verbose=False)
    stats, _ = c.predict(handle_file(str(mine)), 10, api_name="/upload_corpus")
    assert "mine.txt" in stats


def test_push_takes_only_a_training_text_of_the_session(tmp_path):
    import app
    session, outside = app.new_session(), tmp_path / "secret.txt"
    outside.write_text("private")
    assert session.owns(app.SAMPLE_CORPUS) and not session.owns(str(outside))
    inside = os.path.join(session.folder(), "upload-x", "a.txt")
    assert session.owns(inside) and not session.owns(os.path.join(inside, "..", "..", "..", "secret.txt"))
    os.symlink(outside, os.path.join(session.folder(), "link.txt"))
    assert not session.owns(os.path.join(session.folder(), "link.txt"))  # a link out of the folder is outside
    session.close()
