"""The schedule (training/schedule.py): a first run, more runs from its best weights, and the mean of theirs;
how runs share the budget, and what time left over trains."""
from dataclasses import replace

import pytest
import torch

from wordlstm import ModelConfig, TrainConfig, UserError, evaluate, split, train
from wordlstm import TrainResult
from wordlstm.training import loop
from wordlstm.training.schedule import MAX_BRANCHES, Run, Schedule, run_schedule

SMALL = dict(embed_dim=16, hidden_size=32, num_layers=2, dropout=0.2)


def settings(corpus, branches=0, run_epochs=None, fill=False, **cfg):
    """The model and run settings, and a schedule of one model with `branches`."""
    cfg = TrainConfig(**{"seq_len": 10, "batch_size": 4, "epochs": 2, "seed": 3, **cfg})
    return ModelConfig(len(corpus.vocab), **SMALL), cfg, Schedule.of(cfg, 1, branches, run_epochs, fill)


def trained(ids, model_cfg, cfg, schedule, **kwargs):
    return train(ids, model_cfg, cfg, schedule=schedule, **kwargs)


def next_cfg(schedule, cfg, results, adaptive=True):
    """The settings of the schedule's next run, or None."""
    planned = schedule.next_run(cfg, results, adaptive=adaptive)
    return planned and planned[1]


def test_the_model_is_the_mean_of_the_branches_each_trained_from_the_first_run(tiny_corpus):
    ids = tiny_corpus.ids
    model_cfg, cfg, schedule = settings(tiny_corpus, branches=2)
    model, result = trained(ids, model_cfg, cfg, schedule)

    first, first_result = train(ids, model_cfg, cfg)
    start = {k: w.clone() for k, w in first.state_dict().items()}
    branches = [train(ids, model_cfg, replace(cfg, seed=cfg.seed + i), init=start) for i in (1, 2)]
    for name, weight in model.state_dict().items():
        mean = (branches[0][0].state_dict()[name] + branches[1][0].state_dict()[name]) / 2
        assert torch.allclose(weight, mean, atol=1e-7), name
    assert not torch.equal(model.state_dict()["lstm.weight_hh_l0"], branches[0][0].state_dict()["lstm.weight_hh_l0"])

    _, val_ids = split(ids, cfg.seq_len, cfg.val_fraction)
    assert result.val_loss == pytest.approx(evaluate(model, val_ids, cfg.seq_len), rel=1e-6)
    runs = [first_result] + [r for _, r in branches]
    assert result.branches == 2 and result.steps == sum(r.steps for r in runs)
    assert result.epochs == pytest.approx(sum(r.epochs for r in runs)) and result.metrics()["branches"] == 2


def test_branches_report_as_one_run_and_end_on_the_mean(tiny_corpus):
    events = []
    _, result = trained(tiny_corpus.ids, *settings(tiny_corpus, branches=2), on_event=events.append)
    assert [e.kind for e in events].count("start") == 1 and events[0].kind == "start"
    assert [e.kind for e in events[-2:]] == ["val", "done"]
    vals = [e for e in events if e.kind == "val"]
    assert [e.branch for e in vals] == [0, 0, 1, 1, 2, 2, None]  # 2 epochs each, then the mean
    assert vals[-1].val_loss == result.val_loss == events[-1].val_loss
    for key in ("step", "progress", "elapsed"):
        assert [getattr(e, key) for e in events] == sorted(getattr(e, key) for e in events), key
    assert events[-1].progress == 1.0 and events[-1].step == result.steps
    assert {e.total_steps for e in events} == {result.steps}  # the three runs' planned steps, all run


def test_the_runs_share_the_time_budget_and_each_has_its_own_seed(tiny_corpus):
    _, cfg, schedule = settings(tiny_corpus, branches=3, max_seconds=60.0)
    assert schedule.runs == tuple(Run(0, i, seed=3 + i, share=0.25, epochs=2) for i in range(4))
    runs = [next_cfg(schedule, cfg, [object()] * i, adaptive=False) for i in range(4)]
    assert [(c.seed, c.max_seconds, c.epochs) for c in runs] == [(3 + i, 15.0, 2) for i in range(4)]
    assert all(replace(c, seed=cfg.seed, max_seconds=60.0) == cfg for c in runs)  # nothing else changes
    assert next_cfg(schedule, cfg, [object()] * 4, adaptive=False) is None
    assert Schedule.from_dict(schedule.as_dict()) == schedule  # as config.json records it


def test_run_epochs_cut_each_run_which_may_end_before_the_budget(tiny_corpus):
    _, cfg, schedule = settings(tiny_corpus, branches=2, max_seconds=600.0, epochs=None, run_epochs=1)
    assert [(r.epochs, r.share * cfg.max_seconds) for r in schedule.runs] == [(1, 200.0)] * 3
    assert {r.epochs for r in Schedule.of(replace(cfg, epochs=2), 1, 2, run_epochs=3).runs} == {2}  # the fewer
    events = []
    _, result = trained(tiny_corpus.ids, *settings(tiny_corpus, branches=2, max_seconds=600.0, epochs=None,
                                                   run_epochs=1), on_event=events.append)
    assert result.branches == 2 and result.epochs == pytest.approx(3) and result.seconds < 600
    vals = [e for e in events if e.kind == "val"]
    assert [e.branch for e in vals] == [0, 1, 2, None]  # one epoch each, then the mean
    # Progress counts the runs, not the unused clock, so it moves evenly and ends at 1
    assert [e.progress for e in vals[:3]] == pytest.approx([1 / 3, 2 / 3, 1.0]) and events[-1].progress == 1.0


def test_runs_capped_by_the_users_epochs_also_count_progress_by_runs(tiny_corpus):
    # --epochs with --max-seconds and --branches: each run ends on its epochs, long before its share
    events = []
    _, result = trained(tiny_corpus.ids, *settings(tiny_corpus, branches=2, max_seconds=600.0, epochs=1),
                        on_event=events.append)
    assert result.branches == 2 and result.seconds < 600
    vals = [e for e in events if e.kind == "val"]
    assert [e.progress for e in vals[:3]] == pytest.approx([1 / 3, 2 / 3, 1.0]) and events[-1].progress == 1.0


def test_progress_by_runs_stays_within_one_when_time_left_trains_more_branches(tiny_corpus):
    # Patience ends every run on a text with nothing to learn, so the time left trains more branches
    # than were planned: they share what the bar has left, not more
    noise = torch.randint(len(tiny_corpus.vocab), (len(tiny_corpus.ids),), generator=torch.Generator().manual_seed(0))
    model_cfg, cfg, schedule = settings(tiny_corpus, epochs=None, max_seconds=60.0, patience=1, val_every=0,
                                        branches=1, run_epochs=50, fill=True)
    events = []
    _, result = trained(noise, model_cfg, cfg, schedule, on_event=events.append)
    assert result.leftover_branches >= 1
    progress = [e.progress for e in events]
    assert progress == sorted(progress) and progress[-1] <= 1.0
    assert all(e.eta is None or e.eta >= 0 for e in events)


def test_a_stop_in_the_first_run_trains_no_branch(tiny_corpus):
    calls = []
    first, alone = trained(tiny_corpus.ids, *settings(tiny_corpus),
                           should_stop=lambda: calls.append(1) or len(calls) >= 5)
    calls.clear()
    model, result = trained(tiny_corpus.ids, *settings(tiny_corpus, branches=2),
                            should_stop=lambda: calls.append(1) or len(calls) >= 5)
    assert result.stopped and result.branches == 0 and result.steps == alone.steps == 5
    assert all(torch.equal(w, first.state_dict()[k]) for k, w in model.state_dict().items())


def test_branches_cannot_be_resumed_or_negative(tiny_corpus):
    with pytest.raises(UserError, match="cannot be resumed"):
        trained(tiny_corpus.ids, *settings(tiny_corpus, branches=1), resume=object())
    with pytest.raises(UserError, match="branches must be 0"):
        settings(tiny_corpus, branches=-1)
    with pytest.raises(UserError, match="run_epochs must be at least 1"):
        settings(tiny_corpus, run_epochs=0)


def test_a_config_json_of_when_the_schedule_was_trainconfigs_still_loads():
    recorded = {"seq_len": 10, "branches": 2, "members": 1, "fill_budget": True, "run_epochs": 6}
    assert TrainConfig.from_dict(recorded) == TrainConfig(seq_len=10)  # the schedule's settings, read elsewhere
    with pytest.raises(UserError, match="has no setting 'branchez'"):
        TrainConfig.from_dict({"branchez": 2})


def result(seconds: float, stopped_early: bool) -> TrainResult:
    return TrainResult(val_loss=1.0, steps=1, epochs=1.0, tokens=1, seconds=seconds, train_seconds=seconds, device="cpu",
                       stopped=False, stopped_early=stopped_early)


def test_a_run_that_ends_early_gives_its_time_to_the_runs_after_it(tiny_corpus):
    _, cfg, schedule = settings(tiny_corpus, branches=3, max_seconds=60.0)
    planned = next_cfg(schedule, cfg, [], adaptive=False)
    assert next_cfg(schedule, cfg, []).max_seconds == 15.0
    runs = [result(6.0, stopped_early=True)]  # ended early: its 9 s left go to the three runs after it
    second = next_cfg(schedule, cfg, runs, adaptive=False)  # DDP: the ranks' clocks differ; the plan
    assert second == replace(planned, seed=cfg.seed + 1) and second.max_seconds == 15.0
    assert next_cfg(schedule, cfg, runs) == replace(second, max_seconds=18.0)
    assert next_cfg(schedule, cfg, runs + [result(18.0, False)] * 3) is None  # fill is off


def test_runs_that_overran_a_short_budget_end_the_training_instead_of_failing(tiny_corpus):
    # A budget of a second: setup and the last validation make runs overrun their shares
    _, cfg, schedule = settings(tiny_corpus, branches=2, max_seconds=1.0)
    assert next_cfg(schedule, cfg, [result(0.9, False)]) is None  # 0.05 s each: under a quarter
    assert next_cfg(schedule, cfg, [result(0.4, False), result(0.7, False)]) is None  # overspent
    assert next_cfg(schedule, cfg, [result(0.4, False)]).max_seconds == pytest.approx(0.3)

    def overrun(ids, model_cfg, run_cfg, **kwargs):  # trains, then reports twice its share
        model, res = loop.run(ids, model_cfg, run_cfg, **kwargs)
        return model, replace(res, seconds=2 * run_cfg.max_seconds)

    model_cfg, cfg, schedule = settings(tiny_corpus, branches=2, max_seconds=30.0)
    # The first run takes 20 s of its 10; the second gets 5 s of the 10 left and takes 10; none is left
    model, res = run_schedule(tiny_corpus.ids, model_cfg, cfg, schedule, run=overrun)
    assert res.branches == 1 and res.seconds == 30.0


def test_with_fill_the_time_the_last_run_leaves_trains_one_more_branch(tiny_corpus):
    _, cfg, schedule = settings(tiny_corpus, branches=1, max_seconds=60.0, fill=True)  # two runs of 30 s planned
    last = next_cfg(schedule, cfg, [result(30.0, False)], adaptive=False)
    more = schedule.next_run(cfg, [result(30.0, False), result(20.0, True)], adaptive=True)
    assert more == (Run(0, 2, seed=cfg.seed + 2, share=0.5, epochs=2),
                    replace(last, seed=cfg.seed + 2, max_seconds=10.0))  # all that is left, its own seed
    assert next_cfg(schedule, cfg, [result(30.0, False), result(20.0, False)]) is None  # not early
    assert next_cfg(schedule, cfg, [result(30.0, False), result(23.0, True)]) is None  # < 30 s / 4
    runs = [result(1.0, True)] * (MAX_BRANCHES + 1)
    assert next_cfg(schedule, cfg, runs) is None  # at most MAX_BRANCHES


def test_a_single_run_that_ends_early_goes_on_as_branches_and_says_so(tiny_corpus):
    # A text with nothing to learn beyond its word frequencies: validation stops improving within a few
    # epochs, and patience ends each run long before the budget.
    noise = torch.randint(len(tiny_corpus.vocab), (len(tiny_corpus.ids),), generator=torch.Generator().manual_seed(0))
    model_cfg, cfg, _ = settings(tiny_corpus, epochs=None, max_seconds=60.0, patience=1, val_every=0)
    _, one = train(noise, model_cfg, cfg)
    assert one.stopped_early and one.branches == 0 and one.seconds < 30

    events = []
    model, filled = train(noise, model_cfg, cfg, schedule=Schedule.of(cfg, fill=True), on_event=events.append)
    assert 1 <= filled.branches <= MAX_BRANCHES and filled.leftover_branches == filled.branches
    assert filled.metrics()["leftover_branches"] == filled.branches
    assert "on the time left by runs that ended early" in filled.describe("noise", cfg.patience)
    assert [e.branch for e in events if e.kind == "val"][-1] is None and events[-1].kind == "done"
    assert [e.progress for e in events] == sorted(e.progress for e in events)
    _, val_ids = split(noise, cfg.seq_len, cfg.val_fraction)
    assert filled.val_loss == pytest.approx(evaluate(model, val_ids, cfg.seq_len), rel=1e-6)  # the mean's
