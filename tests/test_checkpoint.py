import json
import os

import pytest
import torch

from wordlstm import ModelConfig, UserError, Vocab, WordLSTM, generate, load_checkpoint, save_checkpoint


def logits_of(model):
    model.eval()
    return model(torch.arange(6).view(1, 6))[0]


def test_save_load_gives_identical_logits_and_text(tmp_path, tiny_model, tiny_vocab):
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, metrics={"val_loss": 1.5}, corpus={"sha256": "ab"})
    assert sorted(os.listdir(tmp_path / "ck")) == ["README.md", "config.json", "model.safetensors", "vocab.json"]
    ck = load_checkpoint(tmp_path / "ck")
    assert torch.equal(logits_of(tiny_model), logits_of(ck.model))
    assert ck.vocab.itos == tiny_vocab.itos
    assert ck.config["metrics"]["val_loss"] == 1.5 and ck.config["corpus"]["sha256"] == "ab"
    assert set(ck.config["versions"]) >= {"torch", "wordlstm", "safetensors"}
    assert generate(ck.model, ck.vocab, "the cat", seed=3) == generate(tiny_model, tiny_vocab, "the cat", seed=3)


def test_tied_weights_round_trip(tmp_path, tiny_vocab):
    model = WordLSTM(ModelConfig(len(tiny_vocab), 16, 16, 1, 0.0, tie_weights=True))
    save_checkpoint(tmp_path / "ck", model, tiny_vocab)
    back = load_checkpoint(tmp_path / "ck").model
    assert back.head.weight is back.embed.weight
    assert torch.equal(logits_of(model), logits_of(back))


def test_tied_adaptive_round_trip(tmp_path, tiny_vocab):
    model = WordLSTM(ModelConfig(len(tiny_vocab), 16, 16, 1, 0.0, tie_weights=True, softmax="adaptive", cutoffs=[4, 8]))
    save_checkpoint(tmp_path / "ck", model, tiny_vocab)
    back = load_checkpoint(tmp_path / "ck").model
    assert back.embed is None and back.config.tie_weights
    assert torch.equal(back.embedding_table(), model.embedding_table())
    assert torch.equal(logits_of(model), logits_of(back))


def test_adaptive_softmax_round_trip(tmp_path, tiny_vocab):
    model = WordLSTM(ModelConfig(len(tiny_vocab), 16, 16, 1, 0.0, softmax="adaptive", cutoffs=[4, 8]))
    save_checkpoint(tmp_path / "ck", model, tiny_vocab)
    ck = load_checkpoint(tmp_path / "ck")
    assert ck.config["model"]["softmax"] == "adaptive" and ck.model.head.cutoffs == [4, 8, len(tiny_vocab)]
    assert torch.equal(logits_of(model), logits_of(ck.model))


def test_checkpoints_from_before_the_adaptive_softmax_load_as_full(tmp_path, tiny_vocab):
    model = WordLSTM(ModelConfig(2500, 8, 8, 1, 0.0, softmax="full"))
    save_checkpoint(tmp_path / "ck", model, Vocab([f"w{i}" for i in range(2500)]))
    config = json.loads((tmp_path / "ck" / "config.json").read_text())
    del config["model"]["softmax"], config["model"]["cutoffs"]  # as a checkpoint without the softmax field is
    (tmp_path / "ck" / "config.json").write_text(json.dumps(config))
    assert not load_checkpoint(tmp_path / "ck").model.adaptive  # "auto" would pick adaptive at 2,500 words


def test_overwrites_a_checkpoint_but_never_another_folder(tmp_path, tiny_model, tiny_vocab):
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, metrics={"v": 1})
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, metrics={"v": 2})
    assert load_checkpoint(tmp_path / "ck").config["metrics"]["v"] == 2
    assert sorted(os.listdir(tmp_path)) == ["ck"]  # no temporary folders left behind
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(UserError, match="is not a wordlstm checkpoint"):
        save_checkpoint(tmp_path / "mine", tiny_model, tiny_vocab)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_unwritable_destination_is_a_clear_error(tmp_path, tiny_model, tiny_vocab):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot write to"):
        save_checkpoint(tmp_path / "file" / "ck", tiny_model, tiny_vocab)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, tiny_model, tiny_vocab, monkeypatch):
    import errno

    import wordlstm.share.checkpoint as ck
    save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, metrics={"v": 1})
    before = {n: (tmp_path / "ck" / n).read_bytes() for n in os.listdir(tmp_path / "ck")}

    def full_disk(model, filename):  # half a file, then the disk is full
        with open(filename, "wb") as f:
            f.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
    monkeypatch.setattr(ck.safetensors.torch, "save_model", full_disk)
    with pytest.raises(UserError, match="could not save the checkpoint to .*: No space left on device"):
        save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab, metrics={"v": 2})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["ck"]  # the half-written temporary folder is gone
    assert {n: (tmp_path / "ck" / n).read_bytes() for n in os.listdir(tmp_path / "ck")} == before
    assert load_checkpoint(tmp_path / "ck").config["metrics"] == {"v": 1}


@pytest.fixture
def saved(tmp_path, tiny_model, tiny_vocab):
    return save_checkpoint(tmp_path / "ck", tiny_model, tiny_vocab)


def test_missing_folder_and_files(tmp_path, saved):
    with pytest.raises(UserError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nope")
    os.remove(os.path.join(saved, "vocab.json"))
    with pytest.raises(UserError, match="vocab.json missing"):
        load_checkpoint(saved)


def test_truncated_weights(saved):
    path = os.path.join(saved, "model.safetensors")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(UserError, match="model.safetensors in .* cannot be loaded"):
        load_checkpoint(saved)


def test_pickle_renamed_to_safetensors_is_refused_not_unpickled(saved, tiny_model, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state": tiny_model.state_dict(), "evil": Evil()}, os.path.join(saved, "model.safetensors"))
    with pytest.raises(UserError, match="not safetensors"):
        load_checkpoint(saved)
    assert not marker.exists()


def test_corrupt_config_and_vocab(saved):
    cfg = os.path.join(saved, "config.json")
    good = open(cfg).read()
    open(cfg, "w").write("{not json")
    with pytest.raises(UserError, match="config.json in .* is not valid JSON"):
        load_checkpoint(saved)
    open(cfg, "w").write(json.dumps({"format": "wordlstm"}))
    with pytest.raises(UserError, match="no valid model config"):
        load_checkpoint(saved)
    open(cfg, "w").write(good)
    open(os.path.join(saved, "vocab.json"), "w").write(json.dumps({"itos": "abc"}))
    with pytest.raises(UserError, match="no word list"):
        load_checkpoint(saved)


def test_wrong_shape_and_vocab_mismatch(saved, tiny_vocab):
    cfg_path = os.path.join(saved, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["model"]["hidden_size"] = 32
    json.dump(cfg, open(cfg_path, "w"))
    with pytest.raises(UserError, match="of another shape"):
        load_checkpoint(saved)
    cfg["model"]["hidden_size"] = 16
    json.dump(cfg, open(cfg_path, "w"))
    Vocab(tiny_vocab.itos[:-1]).save(os.path.join(saved, "vocab.json"))
    with pytest.raises(UserError, match="do not belong together"):
        load_checkpoint(saved)
