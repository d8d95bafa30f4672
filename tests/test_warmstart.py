"""Warm starts: the weights a new model takes from another, word by word (wordlstm.share.warmstart)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY
from wordlstm import ModelConfig, TrainConfig, UserError, Vocab, WordLSTM, corpus_from_text, train
from wordlstm.share.warmstart import transfer


def vocab_of(words):
    return Vocab(list(words), list(range(len(words) + 1000, 1000, -1)))  # counts fall with the rank


def test_full_softmax_rows_and_embeddings_follow_the_words():
    torch.manual_seed(0)
    source_vocab, vocab = vocab_of(["the", "cat", "sat", "mat"]), vocab_of(["mat", "dog", "the"])
    source = WordLSTM(ModelConfig(4, 8, 8, 2, softmax="full"))
    t = transfer(source, source_vocab, ModelConfig(3, 8, 8, 2, softmax="full"), vocab, vocab.counts)
    model = WordLSTM(ModelConfig(3, 8, 8, 2, softmax="full"))
    model.load_state_dict(t.state)
    assert (t.shared, t.copied_output) == (2, 2)
    assert all(torch.equal(a, b) for a, b in zip(model.lstm.parameters(), source.lstm.parameters()))
    for word, (i, j) in {"mat": (0, 3), "the": (2, 0)}.items():
        assert torch.equal(model.embed.weight[i], source.embed.weight[j])
        assert torch.equal(model.head.weight[i], source.head.weight[j]) and model.head.bias[i] == source.head.bias[j]
    assert torch.allclose(model.embed.weight[1], source.embed.weight.mean(0))  # "dog": new, the mean embedding
    assert model.head.bias[1] != source.head.bias.mean()  # ...and its own unigram bias


def test_adaptive_rows_are_copied_where_a_word_is_in_the_same_part_of_both():
    torch.manual_seed(0)
    source_vocab = vocab_of([f"w{i}" for i in range(3000)])  # cutoffs [1000]: the head, then one cluster
    words = [f"w{i}" for i in range(500)] + [f"new{i}" for i in range(600)] + [f"w{i}" for i in range(1500, 2500)]
    vocab = vocab_of(words)  # w0-w499 in both heads; w1500-w2499 in both clusters; w500-w599 would be too
    source = WordLSTM(ModelConfig(3000, 16, 16, 1))
    t = transfer(source, source_vocab, ModelConfig(len(vocab), 16, 16, 1), vocab, vocab.counts)
    model = WordLSTM(ModelConfig(len(vocab), 16, 16, 1))
    model.load_state_dict(t.state)
    assert t.shared == 1500 and t.copied_output == 1500
    assert torch.equal(model.head.head.weight[:500], source.head.head.weight[:500])  # head words, by word
    assert torch.equal(model.head.tail[0][0].weight, source.head.tail[0][0].weight)  # the cluster's projection
    rows = model.head.tail[0][1].weight  # our cluster starts at word 1000: w1500 is row 100 of it
    assert torch.equal(rows[100:1100], source.head.tail[0][1].weight[500:1500])


def test_tied_adaptive_embeddings_follow_the_words_with_their_output_rows():
    torch.manual_seed(0)
    source_vocab = vocab_of([f"w{i}" for i in range(3000)])
    vocab = vocab_of([f"w{i}" for i in range(500)] + [f"new{i}" for i in range(600)] + [f"w{i}" for i in range(1500, 2500)])
    source = WordLSTM(ModelConfig(3000, 16, 16, 1, tie_weights=True))
    t = transfer(source, source_vocab, ModelConfig(len(vocab), 16, 16, 1, tie_weights=True), vocab, vocab.counts)
    model = WordLSTM(ModelConfig(len(vocab), 16, 16, 1, tie_weights=True))
    model.load_state_dict(t.state)
    assert model.embed is None and t.copied_output == 1500
    ours, theirs = torch.tensor([0, 499, 1100, 2099]), torch.tensor([0, 499, 1500, 2499])  # head words, cluster words
    assert torch.equal(model.embedding(ours), source.embedding(theirs))
    # A new word starts from the mean of its part's copied rows: in the head, and in its cluster.
    assert torch.allclose(model.head.head.weight[700], source.head.head.weight[:500].mean(0))
    assert torch.allclose(model.head.tail[0][1].weight[50], source.head.tail[0][1].weight[500:1500].mean(0))


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=32), "its hidden_size is 16, this one's 32; train with --hidden-size 16"),
    (dict(num_layers=2), "its num_layers is 1, this one's 2; train with --num-layers 1"),
    (dict(softmax="full"), "its output layer is adaptive, this one's full; train with --softmax adaptive --no-tie"),
    (dict(tie_weights=True), "is adaptive, this one's adaptive \\(tied\\); train with --softmax adaptive --no-tie-weights"),
])
def test_shapes_that_do_not_fit_are_a_clear_error(change, message):
    source_vocab = vocab_of([f"w{i}" for i in range(3000)])
    source = WordLSTM(ModelConfig(3000, 16, 16, 1))
    with pytest.raises(UserError, match=message):
        transfer(source, source_vocab, ModelConfig(3000, **{"embed_dim": 16, "hidden_size": 16, "num_layers": 1,
                                                            **change}), source_vocab, source_vocab.counts)


def test_a_warm_start_learns_from_the_first_step(tiny_corpus):
    """A model trained on a text, then a new one warm-started from it on the same words:
    its first validation is far better than a new model's after the same single epoch."""
    mc = ModelConfig(len(tiny_corpus.vocab), 16, 32, 1, dropout=0.0)
    cfg = TrainConfig(seq_len=10, batch_size=4, epochs=8, lr=0.02)
    source, first = train(tiny_corpus.ids, mc, cfg)
    one = TrainConfig(seq_len=10, batch_size=4, epochs=1, lr=0.02, seed=1)
    t = transfer(source, tiny_corpus.vocab, mc, tiny_corpus.vocab, tiny_corpus.vocab.counts)
    _, warm = train(tiny_corpus.ids, mc, one, init=t.state)
    _, cold = train(tiny_corpus.ids, mc, one)
    assert warm.val_loss < cold.val_loss - 0.5 and warm.val_loss < first.val_loss + 0.5


@pytest.mark.slow
def test_init_from_in_the_cli_is_recorded_in_the_config_and_the_card(tmp_path, tiny_checkpoint):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY + " a new word or two .")
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out",
                        str(tmp_path / "m"), "--init-from", str(tiny_checkpoint), "--embed-dim", "16",
                        "--hidden-size", "16", "--num-layers", "1", "--dropout", "0", "--seq-len", "10",
                        "--batch-size", "4", "--epochs", "1", "--sample-words", "0"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    words = len(corpus_from_text(corpus.read_text()).vocab)
    recorded = json.loads((tmp_path / "m" / "config.json").read_text())["init_from"]
    assert recorded["source"] == str(tiny_checkpoint) and recorded["vocab_size"] == words
    assert recorded["shared_words"] == words - 4  # "new", "word", "or", "two": the rest is in the tiny text
    assert f"Started from {tiny_checkpoint} (a warm start)" in (tmp_path / "m" / "README.md").read_text()
    assert f"; started from {tiny_checkpoint})" in r.stdout  # the summary line
    # Without shape flags, the source's shape (16x1, tied or not as it is), whatever the size's defaults.
    plain = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out",
                            str(tmp_path / "n"), "--init-from", str(tiny_checkpoint), "--epochs", "1",
                            "--sample-words", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert plain.returncode == 0, plain.stderr
    model = json.loads((tmp_path / "n" / "config.json").read_text())["model"]
    source = json.loads((tiny_checkpoint / "config.json").read_text())["model"]
    assert [model[k] for k in ("embed_dim", "hidden_size", "num_layers")] == [16, 16, 1]
    assert all(model[k] == source[k] for k in ("embed_dim", "hidden_size", "num_layers", "tie_weights", "softmax"))
    # A shape flag that contradicts the source: one line naming both values.
    bad = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train.py"), str(corpus), "--out",
                          str(tmp_path / "o"), "--init-from", str(tiny_checkpoint), "--epochs", "1",
                          "--hidden-size", "32"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert "hidden_size 32 was asked for, but the model to start from has hidden_size 16" in bad.stderr
    assert not (tmp_path / "o").exists()
