"""A schedule of several models (Schedule.of(cfg, members=K)): models trained apart, each its first run and
branches, as an ensemble whose next-word probabilities are the mean of theirs (model/ensemble.py)."""
import json
import math
from dataclasses import replace

import pytest
import torch

from test_distribution import TOLERANCE, model_with, one_text
from test_cache import ADAPTIVE
from wordlstm import (ModelConfig, TrainConfig, UserError, evaluate, generate, load_checkpoint, save_checkpoint,
                      score, split, train)
from wordlstm.model.ensemble import Ensemble, build, members
from wordlstm.share.warmstart import transfer
from wordlstm.training.schedule import Schedule
from wordlstm.use.sample import read

SMALL = dict(embed_dim=16, hidden_size=32, num_layers=2, dropout=0.2)


def two_models(vocab, extra, mix):
    """An ensemble of two models of one config, with other weights (model_with seeds 0; then other draws)."""
    first = model_with(vocab, extra, mix)
    torch.manual_seed(1)
    second = type(first)(first.config).eval()
    return Ensemble(replace(first.config, members=2), [first, second]).eval()


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", [0, 2])  # the models alone; each with its cache and the unseen words' share
def test_the_distribution_is_the_mean_of_the_members(tiny_corpus, extra, mix):
    ensemble = two_models(tiny_corpus.vocab, extra, mix)
    ids = tiny_corpus.ids[:12].tolist()
    mean = sum(one_text(m, ids).exp() for m in ensemble.members) / 2  # each member reads its own outputs
    logp = one_text(ensemble, ids)
    assert torch.allclose(logp.exp(), mean, **TOLERANCE)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(len(ids)), atol=1e-5)
    assert not torch.allclose(one_text(ensemble.members[0], ids), one_text(ensemble.members[1], ids), atol=1e-3)


@pytest.mark.parametrize("extra", [{}, ADAPTIVE])
@pytest.mark.parametrize("mix", [0, 2])
def test_validation_and_generation_read_that_distribution(tiny_corpus, extra, mix):
    ensemble = two_models(tiny_corpus.vocab, extra, mix)
    x = tiny_corpus.ids[:33].view(3, 11).long()
    out, _ = ensemble.eval_features(x[:, :-1])
    nll = ensemble.text_nll(out, x[:, 1:])
    for row in range(3):
        logp = one_text(ensemble, x[row, :-1].tolist())
        assert torch.allclose(nll[row], -logp.gather(1, x[row, 1:, None]).squeeze(1), **TOLERANCE)

    ids = tiny_corpus.ids[:15].tolist()
    logp = one_text(ensemble, ids)
    reader = read(ensemble, ids[:3])
    for k in range(3, len(ids) + 1):
        assert torch.allclose(reader.probs / reader.probs.sum(), logp[k - 1].exp(), **TOLERANCE)
        if k < len(ids):
            reader.read(ids[k])


def test_scoring_reads_it_and_a_checkpoint_keeps_it(tiny_corpus, tmp_path):
    ensemble = two_models(tiny_corpus.vocab, {}, 2)
    vocab, text = tiny_corpus.vocab, " ".join(tiny_corpus.vocab.itos[i] for i in tiny_corpus.ids[:30].tolist())
    ids = tiny_corpus.ids[:30].tolist()
    logp = one_text(ensemble, ids)
    expected = -logp[:-1].gather(1, torch.tensor(ids[1:])[:, None]).mean().item()
    assert score(ensemble, vocab, text).perplexity == pytest.approx(math.exp(expected), rel=1e-4)

    save_checkpoint(tmp_path / "ens", ensemble, vocab)
    assert json.loads((tmp_path / "ens" / "config.json").read_text())["model"]["members"] == 2
    assert "It is an ensemble of 2 such models" in (tmp_path / "ens" / "README.md").read_text()
    loaded = load_checkpoint(tmp_path / "ens").model
    assert isinstance(loaded, Ensemble) and len(loaded.members) == 2
    for a, b in zip(members(loaded), members(ensemble)):
        assert all(torch.equal(a.state_dict()[k], w) for k, w in b.state_dict().items())
    assert generate(loaded, vocab, "the", max_new_tokens=20, seed=4) == generate(ensemble, vocab, "the",
                                                                                 max_new_tokens=20, seed=4)


def settings(corpus, members=1, branches=0, **cfg):
    """The model and run settings, and a schedule of `members` models with `branches` each."""
    cfg = TrainConfig(**{"seq_len": 10, "batch_size": 4, "epochs": 1, "seed": 3, **cfg})
    return ModelConfig(len(corpus.vocab), **SMALL), cfg, Schedule.of(cfg, members, branches)


def trained(ids, model_cfg, cfg, schedule, **kwargs):
    return train(ids, model_cfg, cfg, schedule=schedule, **kwargs)


def test_each_member_is_a_first_run_and_its_branches_from_its_own_start(tiny_corpus):
    ids = tiny_corpus.ids
    model_cfg, cfg, schedule = settings(tiny_corpus, members=2, branches=1)
    events = []
    model, result = trained(ids, model_cfg, cfg, schedule, on_event=events.append)
    assert isinstance(model, Ensemble) and model.config.members == 2 and result.members == 2

    one = cfg
    for i, member in enumerate(model.members):  # runs are numbered on: member i's first is run 2i, its branch 2i + 1
        first, _ = train(ids, model_cfg, replace(one, seed=cfg.seed + 2 * i))
        start = {k: w.clone() for k, w in first.state_dict().items()}
        branch, _ = train(ids, model_cfg, replace(one, seed=cfg.seed + 2 * i + 1), init=start)
        for name, weight in member.state_dict().items():
            assert torch.allclose(weight, branch.state_dict()[name], atol=1e-7), name
    _, val_ids = split(ids, cfg.seq_len, cfg.val_fraction)
    assert result.val_loss == pytest.approx(evaluate(model, val_ids, cfg.seq_len), rel=1e-6)
    assert result.branches == 2 and result.metrics()["members"] == 2
    assert "an ensemble of 2 models trained apart" in result.describe("t.txt", cfg.patience)

    vals = [e for e in events if e.kind == "val"]
    assert [(e.member, e.branch) for e in vals] == [(0, 0), (0, 1), (1, 0), (1, 1), (None, None)]
    assert [e.progress for e in vals] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert "model 2 of the ensemble, branch 1" in vals[3].describe("t.txt")
    assert vals[-1].describe("t.txt").startswith("Training on") and "the ensemble, " in vals[-1].describe("t.txt")


def test_members_without_branches_and_their_off_switch(tiny_corpus):
    model, result = trained(tiny_corpus.ids, *settings(tiny_corpus, members=2))
    assert isinstance(model, Ensemble) and result.branches == 0 and result.members == 2
    model, result = trained(tiny_corpus.ids, *settings(tiny_corpus, members=1))
    assert not isinstance(model, Ensemble) and result.members == 1 and "members" not in result.metrics()
    with pytest.raises(UserError, match="members must be 1"):
        settings(tiny_corpus, members=0)
    with pytest.raises(UserError, match="cannot be resumed"):
        trained(tiny_corpus.ids, *settings(tiny_corpus, members=2), resume=object())


def test_a_warm_start_from_an_ensemble_takes_its_first_model(tiny_corpus):
    ensemble = build(ModelConfig(len(tiny_corpus.vocab), **SMALL, members=2))
    vocab = tiny_corpus.vocab
    start = transfer(ensemble, vocab, ModelConfig(len(vocab), **SMALL, members=2), vocab, vocab.counts)
    first = ensemble.members[0].state_dict()
    assert all(torch.equal(start.state[k], first[k]) for k in first if k.startswith("lstm."))


def test_the_apps_runs_table_names_the_models_and_counts_their_memory(tiny_corpus, tmp_path):
    from wordlstm.serve.runs import Runs

    model_cfg, cfg, schedule = settings(tiny_corpus, members=2)
    model, result = trained(tiny_corpus.ids, model_cfg, cfg, schedule)
    run = Runs(str(tmp_path)).record(model, tiny_corpus, result, cfg, "a new model", schedule=schedule)
    assert run.ckpt.config["schedule"] == schedule.as_dict()
    assert ", 2 models, " in run.row[3] and isinstance(run.ckpt.model, Ensemble)
    one = sum(p.numel() * p.element_size() for p in model.members[0].parameters())
    assert run.memory == f"{2 * one / 2**20:.1f} MB"
