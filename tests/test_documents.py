"""A corpus of several files: each a document. No window spans two, each gives its tail to
validation, and the files are read as carefully as one: a folder, several paths, a zip."""
import json
import os
import stat
import zipfile

import pytest
import torch

from conftest import TINY
from wordlstm import TrainConfig, UserError, load_corpus, train
from wordlstm.model.lstm import ModelConfig
from wordlstm.planning.limits import TEXT_PEAK_PER_BYTE, Admission, Limits
from wordlstm.text.data import Windows, corpus_from_text, split, split_lengths
from wordlstm.text.texts import read_texts, size_of
from wordlstm.training.loop import _Validation, _windows, evaluate

DOG = "the dog ran to the park and back . " * 40
CAT = "a cat slept on a warm mat all day ! " * 30


def doc_of(ids: torch.Tensor, documents) -> torch.Tensor:
    """Each token's document, for a stream whose token i is i (arange)."""
    ends = torch.tensor(documents).cumsum(0)
    return torch.searchsorted(ends, ids.contiguous(), right=True)


@pytest.mark.parametrize("documents", [(250, 50, 1000), (101, 102, 203, 404), (5000, 7, 333)])
@pytest.mark.parametrize("stride", [None, 1, 37])
def test_no_window_spans_two_documents_and_each_gives_its_tail(documents, stride):
    ids = torch.arange(sum(documents), dtype=torch.int32)
    train_ids, val_ids = split(ids, 100, 0.1, documents)
    train_lengths, val_lengths = split_lengths(documents, 100, 0.1)
    windows = Windows(train_ids, 100, stride, train_lengths)
    x, y = windows.get(torch.arange(len(windows)))
    spans = torch.cat([x, y[:, -1:]], 1)
    assert len(windows) and (doc_of(spans, documents) == doc_of(spans[:, :1], documents)).all()
    assert (y == x + 1).all()  # each window is a run of one document's consecutive tokens
    v = Windows(val_ids, 100, lengths=val_lengths)
    vx, vy = v.get(torch.arange(len(v)))
    assert (doc_of(vx, documents) == doc_of(vx[:, :1], documents)).all() and (vy == vx + 1).all()
    # Validation is each long enough document's tail, never trained on.
    start = 0
    for n, t, held in zip(documents, train_lengths, val_lengths):
        doc_val = set(range(start + t, start + n))
        assert set(val_ids.tolist()) & set(range(start, start + n)) == doc_val
        assert held == 0 or (held >= 101 and n - held >= 101)  # a window each, or the document trains whole
        start += n
    assert not set(train_ids.tolist()) & set(val_ids.tolist())
    # The stride's windows within each document: as many as one document of that length would give.
    assert len(windows) == sum(len(Windows(torch.zeros(n), 100, stride)) for n in train_lengths)


def test_the_split_of_one_document_is_unchanged():
    ids = torch.arange(1000, dtype=torch.int32)
    assert [len(p) for p in split(ids, 100, 0.1, (1000,))] == [len(p) for p in split(ids, 100, 0.1)] == [900, 100]
    assert split_lengths((1000,), 100) == ((), ())


def test_files_too_short_to_hold_out_anything_are_refused_with_what_to_do():
    with pytest.raises(UserError, match="none of the 3 files has the 202 tokens"):
        split_lengths((150, 60, 201), 100)


def test_training_windows_and_validation_keep_to_their_documents():
    # Two documents of one word each: a window that spans both would hold both words.
    corpus = corpus_from_text("a " * 600 + "b " * 400)
    ids = corpus.ids
    cfg = TrainConfig(seq_len=20, batch_size=4, epochs=1, documents=(600, 400))
    train_ids, val_ids = split(ids, cfg.seq_len, cfg.val_fraction, cfg.documents)
    windows, contiguous = _windows(train_ids, cfg, 1)
    for x, y in windows.batches(4, contiguous, torch.Generator().manual_seed(0)):
        rows = torch.cat([x, y], 1)
        assert ((rows == rows[:, :1]).all(1)).all()
    val = _Validation(val_ids, cfg, False)
    assert val.total == 2 + 1  # the last 60 of a, and 40 of b: two and one windows of 20 (+1 token)
    v = Windows(val_ids, cfg.seq_len, lengths=val.lengths)
    assert len(v) == val.total and {tuple(v.get(torch.arange(val.total))[0][:, 0].tolist())} == {(0, 0, 1)}


def test_a_model_of_several_documents_is_validated_on_each(tmp_path):
    corpus = load_corpus(write(tmp_path, {"dog.txt": DOG, "cat.txt": CAT}))
    assert [f for f, _ in corpus.files] == ["cat.txt", "dog.txt"]  # a folder's files, by name
    cfg = TrainConfig(seq_len=10, batch_size=8, epochs=2, patience=None, documents=corpus.documents)
    model, result = train(corpus.ids, ModelConfig(len(corpus.vocab), 16, 16, 1, 0.0), cfg)
    train_lengths, val_lengths = split_lengths(corpus.documents, 10)
    _, val_ids = split(corpus.ids, 10, 0.1, corpus.documents)
    assert all(val_lengths) and result.val_loss == pytest.approx(evaluate(model, val_ids, 10, lengths=val_lengths))
    # The validation set is both texts' tails: the dog's words and the cat's.
    held = {corpus.vocab.itos[i] for i in val_ids.tolist()}
    assert {"dog", "cat"} <= held


def write(folder, files: dict) -> str:
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return str(folder)


def test_several_paths_a_folder_and_a_zip_read_the_same_documents(tmp_path):
    folder = write(tmp_path / "texts", {"b.txt": CAT, "a.txt": DOG, "notes.md": "not a text", ".hidden.txt": "x"})
    with zipfile.ZipFile(tmp_path / "texts.zip", "w") as zf:
        zf.writestr("texts/a.txt", DOG)  # zipping a folder puts its files in it
        zf.writestr("texts/b.txt", CAT)
        zf.writestr("__MACOSX/texts/._a.txt", b"\x00\x05\x16\x07")  # what a Mac's zip adds
    by_folder = load_corpus(folder)
    by_paths = load_corpus([os.path.join(folder, "a.txt"), os.path.join(folder, "b.txt")])
    (tmp_path / "unpacked").mkdir()
    by_zip = load_corpus(tmp_path / "texts.zip", parent=str(tmp_path / "unpacked"))
    for corpus in (by_folder, by_paths, by_zip):
        assert corpus.files == by_folder.files and corpus.files[0][0] == "a.txt" and len(corpus.files) == 2
        assert torch.equal(corpus.ids, by_folder.ids) and corpus.sha256 == by_folder.sha256
    assert os.listdir(tmp_path / "unpacked") == []  # the zip's folder is gone once the texts are read
    joined = corpus_from_text(DOG + CAT)
    assert torch.equal(by_folder.ids, joined.ids) and by_folder.sha256 != joined.sha256  # two texts, not one
    assert by_folder.info()["files"] == [{"name": "a.txt", "tokens": 360}, {"name": "b.txt", "tokens": 300}]
    assert "| a.txt | 360 | 54.5% |" in by_folder.describe(10)  # each file's tokens and share
    one = load_corpus(write(tmp_path / "one", {"t.txt": TINY}) + "/t.txt")
    assert one.documents == () and "files" not in one.info() and one.sha256 == corpus_from_text(TINY).sha256


def zip_with(path, members: dict, links=()) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return str(path)


@pytest.mark.parametrize("members, links, message", [
    ({"../evil.txt": DOG}, (), "unsafe entry '../evil.txt'"),
    ({"/abs.txt": DOG}, (), "unsafe entry"),
    ({"a.txt": DOG}, ("link.txt",), "holds a link, 'link.txt'"),
    ({"a.txt": DOG, "inner.zip": b"PK"}, (), "holds another zip, 'inner.zip'"),
    ({"a.txt": DOG, "img.png": b"\x89PNG"}, (), "'img.png', which is not a .txt file"),
    ({"x/y/a.txt": DOG}, (), "in a folder inside a folder"),
    ({"a/t.txt": DOG, "b/t.txt": CAT}, (), "holds t.txt twice"),
    ({"a.txt": DOG, "latin.txt": "caf\xe9".encode("latin-1")}, (), "latin.txt (in bad.zip) is not valid UTF-8"),
    ({"a.txt": DOG, "empty.txt": "  \n"}, (), "empty.txt (in bad.zip) is empty"),
    ({"a.txt": DOG, "bin.txt": b"ab\x00cd"}, (), "bin.txt (in bad.zip) looks binary"),
    ({"notes.md": "x"}, (), "'notes.md', which is not a .txt file"),
    ({}, (), "holds no .txt file"),
])
def test_a_bad_zip_gets_a_message_that_names_its_member(tmp_path, members, links, message):
    path = zip_with(tmp_path / "bad.zip", members, links)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_texts(path, parent=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["bad.zip"]  # nothing left unpacked


def test_a_zip_bomb_stops_at_the_cap_whatever_its_headers_claim(tmp_path):
    path = zip_with(tmp_path / "bomb.zip", {"a.txt": b"a " * 2_000_000})  # 4 MB that zips to a few KB
    assert os.path.getsize(path) < 50_000
    with pytest.raises(UserError, match="unpacks to more than the limit"):
        read_texts(path, max_bytes=1_000_000, parent=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["bomb.zip"]


def test_the_limits_hold_for_all_the_files_together(tmp_path):
    folder = write(tmp_path / "t", {"a.txt": DOG, "b.txt": CAT})
    read_texts(folder, max_bytes=len(DOG) + len(CAT))
    with pytest.raises(UserError, match="b.txt takes the texts past"):
        read_texts(folder, max_bytes=len(DOG) + len(CAT) - 1)
    with pytest.raises(UserError, match="bad.txt is not valid UTF-8"):
        read_texts([os.path.join(folder, "a.txt"), write(tmp_path / "u", {"bad.txt": b"caf\xe9 au lait"}) + "/bad.txt"])
    with pytest.raises(UserError, match="holds no .txt file"):
        read_texts(write(tmp_path / "none", {"x.md": "x"}))
    with pytest.raises(UserError, match="more than 3 files"):
        import wordlstm.text.texts as texts
        old, texts.MAX_FILES = texts.MAX_FILES, 3
        try:
            read_texts(write(tmp_path / "many", {f"{i}.txt": DOG for i in range(4)}))
        finally:
            texts.MAX_FILES = old
    assert size_of(folder) == len(DOG) + len(CAT)


def test_reading_a_text_is_admitted_by_its_memory():
    admission = Admission(Limits(memory=100 * 2**30, session_memory=TEXT_PEAK_PER_BYTE * 10**6), "cpu")
    with admission.reading(10**6):  # within a session's share
        assert sum(admission._running.values()) == TEXT_PEAK_PER_BYTE * 10**6  # counted while it reads
    assert not admission._running
    with pytest.raises(UserError, match="per session.*give less text"):
        with admission.reading(10**6 + 1):
            pass
    full = Admission(Limits(memory=2**20), "cpu")  # less than this process already uses
    with pytest.raises(UserError, match="free now: try again when a training has ended, or give less text"):
        with full.reading(1000):
            pass
    assert Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "4000"}).session_memory == 1000 * 2**20
    assert Limits.from_env({"WORDLSTM_MAX_MEMORY_MB": "4000", "WORDLSTM_SESSION_MEMORY_MB": "0"}).session_memory is None


def test_the_cli_trains_on_a_folder_and_records_its_files(tmp_path):
    from wordlstm.commands import main
    folder = write(tmp_path / "texts", {"dog.txt": DOG, "cat.txt": CAT})
    out = tmp_path / "run"
    assert main(["train", folder, "--out", str(out), "--epochs", "1", "--size", "small", "--seq-len", "10",
          "--embed-dim", "8", "--hidden-size", "8", "--num-layers", "1", "--sample-words", "0"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["corpus"]["files"] == [{"name": "cat.txt", "tokens": 300}, {"name": "dog.txt", "tokens": 360}]
    assert config["train"]["documents"] == [300, 360]
    card = (out / "README.md").read_text()
    assert "| cat.txt | 300 |" in card and "| dog.txt | 360 |" in card and "last 10% of each file" in card
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 0  # the folder, read again from its path
    assert json.loads((out / "config.json").read_text())["metrics"]["epochs"] == 2
    files = [os.path.join(folder, "cat.txt"), os.path.join(folder, "dog.txt")]
    assert main(["train", *files, "--out", str(tmp_path / "two"), "--epochs", "1", "--size", "small", "--seq-len",
                 "10", "--embed-dim", "8", "--hidden-size", "8", "--num-layers", "1", "--sample-words", "0"]) == 0
    assert main(["train", "--resume", str(tmp_path / "two"), "--epochs", "2"]) == 2  # several paths: give them
    assert main(["train", *files, "--resume", str(tmp_path / "two"), "--epochs", "2"]) == 0
