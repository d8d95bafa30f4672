"""Hub push/pull and Space deploys, through huggingface_hub's real client, against tests/fakehub.py."""
import os
import pickle
import re

import pytest
import torch
import yaml
from fakehub import TOKEN

from conftest import ROOT
from test_cli import run
from wordlstm import Checkpoint, UserError, load_checkpoint, save_checkpoint
from wordlstm.share.hub import deploy_space, load_model, no_token, push

CHECKPOINT_FILES = ["README.md", "config.json", "model.safetensors", "vocab.json"]


@pytest.fixture
def saved(tmp_path, tiny_model, tiny_vocab, tiny_corpus):
    path = save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, train={"seed": 7, "lr": 0.005},
                           metrics={"val_loss": 1.25, "val_ppl": 3.49, "seconds": 12.5, "device": "cpu", "steps": 40},
                           corpus=tiny_corpus.info())
    return load_checkpoint(path)


def logits(ck):
    return ck.model(torch.tensor([[0, 1, 2, 3]]))[0]


def front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---")[1])


def test_push_pull_round_trip(hub, saved):
    url = push(saved, "alice/tiny-lstm", private=True, token=TOKEN)
    assert url == f"{hub.url}/alice/tiny-lstm"
    repo = hub.repos[("model", "alice/tiny-lstm")]
    assert sorted(repo["files"]) == CHECKPOINT_FILES and repo["private"] is True
    for data in repo["files"].values():
        assert TOKEN.encode() not in data

    back = load_model("alice/tiny-lstm", token=TOKEN)
    assert isinstance(back, Checkpoint) and back.vocab.itos == saved.vocab.itos
    assert torch.equal(logits(back), logits(saved))


def test_the_card_carries_the_metadata(hub, saved):
    push(saved, "alice/tiny-lstm", token=TOKEN)
    card = hub.repos[("model", "alice/tiny-lstm")]["files"]["README.md"].decode()
    meta = front_matter(card)
    assert meta["library_name"] == "wordlstm" and meta["pipeline_tag"] == "text-generation"
    assert {"text-generation", "lstm", "pytorch", "word-level"} <= set(meta["tags"])
    result = meta["model-index"][0]["results"][0]
    assert result["metrics"][0] == {"type": "perplexity", "value": 3.49, "name": "validation perplexity"}
    corpus = saved.config["corpus"]
    for expected in (f"| tokens | {corpus['tokens']:,} |", corpus["sha256"], "| seed | 7 |", "| val_ppl | 3.49 |",
                     "| seconds | 12.5 |", "| device | cpu |", 'Checkpoint.from_pretrained("alice/tiny-lstm")',
                     "torch " + torch.__version__, "- seed 2: The ", "word embeddings and a full softmax over"):
        assert expected in card
    assert "the cat sat on the mat" not in card and "corpus.txt" not in hub.repos[("model", "alice/tiny-lstm")]["files"]


def test_the_corpus_text_is_shared_only_on_request(hub, saved, tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the cat sat on the mat .")
    push(saved, "alice/with-text", token=TOKEN, corpus_path=str(text))
    files = hub.repos[("model", "alice/with-text")]["files"]
    assert files["corpus.txt"] == b"the cat sat on the mat ."
    assert "included in this repository as `corpus.txt`" in files["README.md"].decode()


def test_pull_downloads_once_then_uses_the_cache(hub, saved):
    push(saved, "alice/cached", token=TOKEN)
    load_model("alice/cached")
    load_model("alice/cached")
    gets = [p for m, p in hub.requests if m == "GET" and p.endswith("/model.safetensors")]
    assert len(gets) == 1


@pytest.mark.parametrize("token, message", [
    (None, re.escape(no_token("pushing"))),
    ("hf_wrong", r"the Hub refused the token while pushing to alice/tiny-lstm \(401\)"),
])
def test_a_missing_or_invalid_token_is_a_clear_error(hub, saved, token, message):
    with pytest.raises(UserError, match=message):
        push(saved, "alice/tiny-lstm", token=token)
    assert ("model", "alice/tiny-lstm") not in hub.repos


INVALID, NO_FOLDER = "is not a valid Hub repo id", "no such checkpoint folder"


@pytest.mark.parametrize("repo_id, when_loading", [
    ("not a repo", NO_FOLDER), ("alice/bad name", INVALID), ("a/b/c", NO_FOLDER), ("alice/..x", INVALID), ("", NO_FOLDER),
])  # loading reads a name without exactly one "/" as a local folder
def test_a_malformed_repo_id_is_refused_before_any_request(hub, saved, repo_id, when_loading):
    with pytest.raises(UserError, match=INVALID):
        push(saved, repo_id, token=TOKEN)
    with pytest.raises(UserError, match=when_loading):
        load_model(repo_id)
    assert hub.requests == []


def test_a_failing_or_unreachable_hub_loses_nothing(hub, saved, tmp_path, monkeypatch):
    import huggingface_hub.utils._http
    monkeypatch.setattr(huggingface_hub.utils._http.time, "sleep", lambda s: None)  # the client's backoff waits
    folder = tmp_path / "ck"
    before = {n: (folder / n).read_bytes() for n in CHECKPOINT_FILES}
    hub.fail_with = 500
    with pytest.raises(UserError, match="the Hub answered 500 while pushing to alice/m; try again later"):
        push(saved, "alice/m", token=TOKEN)
    with pytest.raises(UserError, match="could not download alice/m: the Hub at .* is unreachable or failing"):
        load_model("alice/m")
    hub.fail_with = None
    with hub.down():
        with pytest.raises(UserError, match=f"cannot reach the Hub at {hub.url} while pushing"):
            push(saved, "alice/m", token=TOKEN)
        with pytest.raises(UserError, match="could not download alice/never-pushed: the Hub"):
            load_model("alice/never-pushed")
    assert {n: (folder / n).read_bytes() for n in CHECKPOINT_FILES} == before
    assert torch.equal(logits(saved), logits(load_checkpoint(folder)))


def test_repos_without_a_wordlstm_model_are_refused(hub, saved, tmp_path):
    with pytest.raises(UserError, match="alice/nothing is neither a folder here nor a repo on the Hub"):
        load_model("alice/nothing")
    folder = tmp_path / "ck"
    hub.add_repo("alice/partial", {n: (folder / n).read_bytes() for n in ("config.json", "model.safetensors")})
    with pytest.raises(UserError, match="alice/partial is not a wordlstm model: vocab.json missing"):
        load_model("alice/partial")
    state = {k: v for k, v in saved.model.state_dict().items()}
    hub.add_repo("alice/pickled", {"pytorch_model.bin": pickle.dumps(state), "config.json": b"{}"})
    with pytest.raises(UserError, match="holds pytorch_model.bin, a pickle checkpoint; wordlstm never loads pickles"):
        load_model("alice/pickled")
    assert not any(p.endswith("pytorch_model.bin") and m == "GET" for m, p in hub.requests)  # never even fetched


def test_deploy_space_uploads_the_app_and_leaves_tests_behind(hub):
    url = deploy_space("alice/wordlstm-demo", ROOT, token=TOKEN)
    assert url == f"{hub.url}/spaces/alice/wordlstm-demo"
    space = hub.repos[("space", "alice/wordlstm-demo")]
    assert space["sdk"] == "gradio"
    files = set(space["files"])
    assert {"app.py", "requirements.txt", "README.md", "wordlstm/model/lstm.py", "models/anna/model.safetensors",
            "data/anna.txt"} <= files
    assert not [f for f in files if f.startswith(("tests/", ".git/", ".ci/", ".venv/")) or "__pycache__" in f
                or f.endswith(".pyc")]
    meta = front_matter(space["files"]["README.md"].decode())
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"


@pytest.mark.slow
def test_cli_push_then_generate_from_the_repo_id(hub, saved, tmp_path):
    r = run("push_to_hub.py", tmp_path / "ck", "alice/cli-model", "--private", "--token", TOKEN)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{hub.url}/alice/cli-model" and hub.repos[("model", "alice/cli-model")]["private"]
    r = run("generate.py", "alice/cli-model", "--prompt", "the cat", "--max-new-tokens", 5, "--seed", 0,
            "--token", TOKEN)
    assert r.returncode == 0, r.stderr
    from wordlstm import generate
    assert r.stdout.strip() == generate(saved.model, saved.vocab, "the cat", max_new_tokens=5, seed=0)


@pytest.mark.parametrize("args, message", [
    (["alice/x"], "pushing needs a Hugging Face token"),
    (["not a repo", "--token", TOKEN], "is not a valid Hub repo id"),
])
def test_cli_push_errors_are_one_line(hub, tmp_path, saved, args, message):
    r = run("push_to_hub.py", tmp_path / "ck", *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_app_pushes_and_loads_through_the_api(url, hub, saved, tmp_path):
    from gradio_client import Client, handle_file

    from wordlstm import generate
    from wordlstm.share.archive import pack
    zip_path = pack(tmp_path / "ck", tmp_path / "model.zip")
    alice = Client(url, verbose=False)
    with pytest.raises(Exception, match="there is no model of yours to push yet"):
        alice.predict("alice/from-app", False, False, TOKEN, api_name="/push_to_hub")
    alice.predict(handle_file(zip_path), api_name="/upload_model")
    with pytest.raises(Exception, match="the Hub refused the token"):
        alice.predict("alice/from-app", False, False, "hf_wrong", api_name="/push_to_hub")
    link, token_box = alice.predict("alice/from-app", True, False, TOKEN, api_name="/push_to_hub")
    assert link == f"Pushed: [{hub.url}/alice/from-app]({hub.url}/alice/from-app)" and token_box == ""
    repo = hub.repos[("model", "alice/from-app")]
    assert repo["private"] and sorted(repo["files"]) == CHECKPOINT_FILES
    assert not any(TOKEN.encode() in data for data in repo["files"].values())

    bob = Client(url, verbose=False)  # another user loads it by name
    with pytest.raises(Exception, match="alice/from-app is neither a folder here nor a repo on the Hub"):
        bob.predict("alice/from-app", "", api_name="/load_from_hub")  # private: needs a token
    # The server's own folders are not a stranger's to read: each is taken as a repo id, never a path.
    for local, message in [("models/anna", "models/anna is neither a folder here nor a repo on the Hub"),
                           ("/etc", "'/etc' is not a valid Hub repo id"), ("../main", "'../main' is not a valid Hub repo id")]:
        with pytest.raises(Exception, match=re.escape(message)):
            bob.predict(local, "", api_name="/load_from_hub")
    note = bob.predict("alice/from-app", TOKEN, api_name="/load_from_hub")
    assert "your model" in note
    settings = dict(max_new_tokens=12, temperature=0.8, top_k=40, top_p=1.0, seed=4)
    text = bob.predict(prompt="the cat", **settings, api_name="/generate")[0]
    assert text == generate(saved.model, saved.vocab, "the cat", **settings)


def test_a_space_installs_the_torch_release_the_tests_ran_on():
    """requirements.txt (what a Space installs) holds torch to one release, the one the README's and CI's
    commands install: a Space took torch 2.14's CUDA wheels while the tests ran on 2.13.0."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    def read(name):
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            return f.read()

    pinned = {Version(v) for name in ("README.md", ".ci/run") for v in re.findall(r"torch==([\d.]+)", read(name))}
    spec = SpecifierSet(re.search(r"^torch([<>=!~,.\d ]+)$", read("requirements.txt"), re.M).group(1).strip())
    assert len(pinned) == 1 and next(iter(pinned)) in spec
    release = next(iter(pinned)).release[:2]
    major, minor = release
    assert Version(f"{major}.{minor + 1}") not in spec and Version(f"{major}.{minor - 1}") not in spec
