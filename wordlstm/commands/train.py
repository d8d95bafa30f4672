"""Train a word-level LSTM on a text (a file, several, a folder or a zip) and write a checkpoint folder.

    wordlstm train data/anna.txt --out runs/anna --max-seconds 300
    wordlstm train letters/ --out runs/letters    # a folder's .txt files (or a.txt b.txt, or texts.zip)
    wordlstm train --resume runs/anna --epochs 20     # continue where it stopped
    torchrun --nproc_per_node=2 scripts/train.py data/anna.txt --out runs/anna   # DDP, one process per GPU/CPU share

The folder is written atomically every --save-every seconds and after every
epoch, so a run killed at any moment leaves a loadable checkpoint (the best
weights so far) and the state to resume it. Ctrl-C stops cleanly and saves.
"""
import argparse
import os
import signal
import sys
from dataclasses import asdict, replace

import torch
import torch.distributed as dist
from tqdm import tqdm

from wordlstm import (Corpus, ModelConfig, Schedule, TrainConfig, UserError, WordLSTM, load_corpus, pick_device,
                      save_checkpoint, train)
from wordlstm.commands.cli import ArgumentParser, invocation
from wordlstm.errors import count
from wordlstm.planning.defaults import AUTO, SIZE_NAMES, TIME_BUDGET, size_settings
from wordlstm.planning.limits import Admission, Limits
from wordlstm.planning.planner import Ask, plan_runs, plan_training
from wordlstm.planning.start import NEW, default_model
from wordlstm.share.checkpoint import check_writable, load_train_state, read_config, recorded_model_config
from wordlstm.share.hub import load_model
from wordlstm.text.lines import ASK as LINES
from wordlstm.training.trainer import trained_config
from wordlstm.use.sample import LiveSampler


def parse_args(argv=None):
    """The command line. A setting's flag is in the namespace only when it is given (SUPPRESS): what was
    asked for by name, which the size's settings and a warm start's shape do not override."""
    p = ArgumentParser(description=__doc__.splitlines()[0], argument_default=argparse.SUPPRESS)
    p.add_argument("corpus", nargs="*", default=[],
                   help="the text to learn from: UTF-8 .txt files, a folder of them or a .zip of them, each file a "
                        "document (with --resume: the recorded ones)")
    p.add_argument("--out", default=None, help="checkpoint folder to write (created or replaced; with --resume: that folder)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue the run saved in DIR, with its settings")
    p.add_argument("--init-from", metavar="auto|new|DIR_OR_REPO_ID", default=AUTO,
                   help="where the weights start: auto (the default: from the default model for a small text in "
                        "words it knows, else new; it says which and why), new, or this model's (a checkpoint "
                        "folder or a Hub repo id): its shape, its LSTM, and the rows of the words both vocabularies "
                        "share; the new text keeps its own vocabulary")
    p.add_argument("--size", choices=SIZE_NAMES, default=AUTO,
                   help="auto (the default: the size and branches that make the most of the budget on this device and "
                        "text; it says what it chose and why), small (the book's 128x3), medium (256x2) or large "
                        "(1024x2), the larger two with AWD-LSTM's regularizers; a flag below changes one of its settings")
    train_flags(p)
    model_flags(p)
    p.add_argument("--min-count", type=int, default=Corpus.min_count,
                   help=f"words seen fewer times become <unk> (default {Corpus.min_count}: keep all)")
    p.add_argument("--max-vocab", type=int, default=Corpus.max_vocab,
                   help="keep at most this many words, the rest become <unk>")
    p.add_argument("--lines", choices=LINES, default="auto",
                   help="whether line breaks are tokens, so that the model writes lines: auto (the default: yes for "
                        "a text of short lines that mostly end without . ! or ?, as verse, lyrics and lists; it says "
                        "so), yes, or no (the book's: a line break is a space)")
    p.add_argument("--track", nargs="?", const="wordlstm", default=None, metavar="PROJECT",
                   help="log the run to trackio (project 'wordlstm' by default; needs pip install 'wordlstm[track]'); "
                        "compare runs with `trackio show`")
    p.add_argument("--sample-words", type=int, default=LiveSampler.words,
                   help=f"after each validation, print a sample of this many words (default {LiveSampler.words}; 0: none)")
    p.add_argument("--dry-run", action="store_true", default=False,
                   help="print the plan (the estimate, what auto chose and why, each run of the schedule) and exit")
    return p.parse_args(argv)


def train_flags(p):
    """How one run trains, and the schedule's counts: each flag changes a setting by name (default: SUPPRESS)."""
    T, S = TrainConfig, size_settings("small")  # every default is theirs: written once
    flag = p.add_argument
    flag("--save-every", type=float, help=f"seconds between checkpoints (default {T.save_every:g})")
    flag("--epochs", type=int, help="passes over the text (default, or 0: as many as the time budget allows)")
    flag("--max-seconds", type=float, help=f"wall-clock budget for training, in seconds (default {TIME_BUDGET}, the "
                                           "app's, unless --epochs is given; 0: no limit, as in the app)")
    flag("--seq-len", type=int, help=f"tokens per training window (default {T.seq_len}; book: 100)")
    flag("--stride", type=int, help="tokens between window starts (default seq-len; book: 1)")
    flag("--shuffle", action=argparse.BooleanOptionalAction,
         help="shuffle the windows every epoch, each from a zero state (default); --no-shuffle: parallel "
              "streams through the text with the state carried across batches")
    flag("--batch-size", type=int, help=f"windows per step (default: the size's; small: {S['batch_size']}, the book's)")
    flag("--lr", type=float, help=f"Adam learning rate (default {T.lr}; book: 1e-4)")
    flag("--schedule", choices=["linear", "constant"],
         help=f"learning rate over the run: linear (warm up, then down to zero at its end: by time with "
              f"--max-seconds, else by step) or constant (default {T.schedule})")
    flag("--warmup", type=float, help=f"share of the run spent warming up (default {T.warmup})")
    flag("--weight-decay", type=float, help=f"AdamW's decoupled weight decay (default {T.weight_decay}: plain Adam)")
    flag("--patience", type=int,
         help=f"stop after this many validations in a row without a new best (default {T.patience}); 0: never")
    flag("--branches", type=int,
         help="after the first run, this many more from its best weights, each with its own seed and "
              "a share of --max-seconds; the model is their mean (default: auto's choice; with a named size, 0)")
    flag("--members", type=int,
         help="models trained apart, each its own first run and branches on an equal share of the budget; "
              "the model is their ensemble, its probabilities their mean (default: auto's choice, 2 to 4 where "
              "the budget holds many epochs; with a named size or --branches, 1)")
    flag("--val-every", type=float,
         help="seconds of training between validations, besides each epoch's end (default: a twentieth "
              "of --max-seconds; without it, epoch ends only); 0: epoch ends only")
    flag("--val-fraction", type=float, help=f"tail of the text held out for validation (default {T.val_fraction})")
    flag("--seed", type=int, help=f"random seed: the same seed gives the same model (default {T.seed})")
    flag("--device", help=f"auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps (default {T.device})")
    flag("--precision", choices=["auto", "fp32", "bf16"],
         help="auto (default): bf16 autocast on CUDA and on CPUs with AMX, else fp32")


def model_flags(p):
    """The model's flags: a size's settings, each changed by name (default: SUPPRESS, as parse_args)."""
    M, S, flag = ModelConfig, size_settings("small"), p.add_argument
    flag("--embed-dim", type=int, help=f"word embedding size (default: the size's; small: {S['embed_dim']})")
    flag("--hidden-size", type=int, help=f"LSTM hidden size (default: the size's; small: {S['hidden_size']})")
    flag("--num-layers", type=int, help=f"LSTM layers (default: the size's; small: {S['num_layers']})")
    flag("--dropout", type=float, help=f"dropout between LSTM layers (default: the size's; small: {S['dropout']})")
    flag("--output-dropout", type=float, help="locked dropout on the LSTM's output, one mask per sequence "
                                              f"(default: the size's; small: {S['output_dropout']})")
    flag("--embed-dropout", type=float, help=f"drops whole words' embeddings (default: the size's; small: "
                                             f"{S['embed_dropout']})")
    flag("--input-dropout", type=float,
         help=f"locked dropout on the LSTM's input, one mask per sequence (default {M.input_dropout}: off)")
    flag("--weight-drop", type=float, help="DropConnect on the recurrent weights, one mask per batch "
                                           f"(default: the size's; small: {S['weight_drop']})")
    flag("--tie-weights", action=argparse.BooleanOptionalAction,
         help="a word's embedding is its output vector (needs embed-dim == hidden-size; --size medium ties them)")
    flag("--cache-lambda", type=float,
         help=f"the share of a continuous cache over the text being read in the next-word distribution, "
              f"in validation, scoring and generation (default {M.cache_lambda}; 0: off)")
    flag("--cache-theta", type=float,
         help=f"how sharply the cache favours the positions most like this one (default {M.cache_theta})")
    flag("--cache-size", type=int, help=f"how many positions back the cache reads (default {M.cache_size})")
    flag("--unseen-share", type=float,
         help="the share of the next-word distribution kept for the vocabulary's words that the training text "
              "never has (default: Good-Turing's estimate, the share of training tokens that are words seen "
              "once; 0: off)")
    flag("--softmax", choices=["auto", "adaptive", "full"],
         help=f"output layer: adaptive (fast, for 2,000+ words), full (the book's), auto picks (default {M.softmax})")


def ask(args) -> Ask:
    """What the command line asked for: the flags given, by their config names."""
    given = {**ModelConfig.pick(vars(args)), **TrainConfig.pick(vars(args))}
    epochs, max_seconds = given.pop("epochs", None), given.pop("max_seconds", None)
    if epochs is None and max_seconds is None:  # a time budget alone bounds the run: the app's
        max_seconds = TIME_BUDGET
    epochs, max_seconds = budget(epochs, max_seconds)
    if "patience" in given:
        given["patience"] = given["patience"] or None  # 0: never
    return Ask(args.size, epochs=epochs, max_seconds=max_seconds, branches=getattr(args, "branches", None),
               members=getattr(args, "members", None), settings=given, start=args.init_from)


def budget(epochs, max_seconds):
    """(epochs, max_seconds) as given, 0 read as the app reads it: no bound of that kind (None)."""
    return epochs or None, max_seconds or None


# What a run recorded before these settings existed trained with (they are absent from its config.json).
BEFORE_THE_RECIPE = {"schedule": "constant", "shuffle": False, "patience": None}


def settings(args, rank: int = 0):
    """(corpus, the TrainingPlan, where its weights started: config.json's "start" and "init_from") for a new
    run, or for the run in --resume."""
    if args.resume:
        return resumed(args)
    if not args.corpus or not args.out:
        raise UserError("give a corpus and --out DIR (or --resume DIR)")
    corpus = load_corpus(args.corpus, min_count=args.min_count, max_vocab=args.max_vocab, lines=args.lines)
    if rank == 0:  # the one process that writes
        check_writable(args.out)  # fail now, not after an hour of training
    asked = ask(args)
    device = str(pick_device(asked.settings.get("device", TrainConfig.device)))
    source = None if args.init_from in (AUTO, NEW) else load_model(args.init_from)
    planned = plan_training(corpus, asked, device=device, admission=admission(device), source=source,
                            default=default_model())
    return corpus, planned, origin(planned.start.name, planned.init and planned.init.describe(planned.start.name))


def resumed(args):
    """settings() for --resume: the recorded run, with a new budget if one is given."""
    if args.init_from != AUTO:
        raise UserError("--init-from starts a new run; a resumed run goes on from its own weights")
    config = read_config(args.resume)
    given = TrainConfig.pick(vars(args))
    new = dict(zip(("epochs", "max_seconds"), budget(given.get("epochs"), given.get("max_seconds")))) \
        if {"epochs", "max_seconds"} & set(given) else {}
    # A run recorded before the schedule, early stopping and shuffled windows existed goes on as it began.
    recorded_train = {**BEFORE_THE_RECIPE, **config.get("train", {})}
    cfg = TrainConfig.from_dict(recorded_train, **new, save_every=given.get("save_every", TrainConfig.save_every))
    recorded = config.get("corpus", {})
    files = [f["name"] for f in recorded.get("files", [])]
    if not args.corpus and files and not os.path.exists(recorded.get("name", "")):  # not one folder or zip
        raise UserError(f"this run trained on {len(files)} files; give them again, before --resume "
                        f"({', '.join(files[:5])}{' ...' if len(files) > 5 else ''})")
    corpus = load_corpus(args.corpus or recorded.get("name"), min_count=recorded.get("min_count", 1),
                         max_vocab=recorded.get("max_vocab"), lines="yes" if recorded.get("lines") else "no")
    if corpus.sha256 != recorded.get("sha256"):
        raise UserError(f"{corpus.name} is not the text this run trained on (sha256 differs); give that text")
    args.out = args.out or args.resume
    device = str(pick_device(cfg.device))
    planned = plan_runs(corpus, recorded_model_config(config, args.resume), cfg, Schedule.of(cfg), device=device,
                        admission=admission(device))
    init_from = config.get("init_from")
    return corpus, planned, origin(config.get("start") or (init_from and init_from["source"]), init_from)


def origin(start: str | None, init_from: dict | None) -> dict:
    """What config.json records of where a run's weights started (a run saved before 0.19.0 may not say)."""
    return {**({"start": start} if start else {}), **({"init_from": init_from} if init_from else {})}


def admission(device: str) -> Admission | None:
    """This machine's limits (WORDLSTM_MAX_MEMORY_MB=0 lifts them); None under torchrun, where each process
    would judge alone."""
    return None if dist.is_initialized() else Admission(replace(Limits.from_env(), place="this machine"), device)


def init_distributed() -> int:
    """Under torchrun (WORLD_SIZE > 1), join the process group; returns this process's rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank()


class Tracker:
    """Logs a run to trackio (`--track`): its settings, the curves, tokens/s and the final metrics."""

    def __init__(self, project: str, config: dict):
        try:
            import trackio
        except ImportError:
            raise UserError("--track needs trackio: pip install 'wordlstm[track]' (or pip install trackio)") from None
        self.trackio = trackio
        trackio.init(project=project, config=config)

    def __call__(self, e):
        if e.kind == "step":
            self.trackio.log({"train_loss": e.train_loss, "tokens_per_s": e.tokens_per_s}, step=e.step)
        elif e.kind == "val":
            self.trackio.log({"val_loss": e.val_loss, "val_ppl": e.val_ppl}, step=e.step)

    def finish(self, metrics: dict):
        self.trackio.log({f"final/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})
        self.trackio.finish()


class Bar:
    """The run's events on the terminal: a tqdm bar, a line per validation with its sample, and trackio."""

    def __init__(self, corpus, planned, track):
        self.corpus, self.plan, self.track, self.bar = corpus, planned, track, None
        self.members, self.branches = planned.schedule.members, planned.schedule.branches
        self.branch = 0  # the last branch seen: more than planned where runs ended early (schedule.py)

    def __call__(self, e):
        if e.kind == "start":  # the data checks passed: from here on, show progress
            print(f"{self.corpus.name}: {count(len(self.corpus.ids), 'token')}, "
                  f"{count(len(self.corpus.vocab), 'word')}; training on {e.device}; {self.plan.cost.summary()}",
                  file=sys.stderr)
            if self.plan.why:
                print(self.plan.why, file=sys.stderr)
            self.bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}{postfix}]")
        self.branch = max(self.branch, e.branch or 0)
        # A run that ends early (patience) is done all the same: its bar ends full, not where time stood.
        self.bar.n = 100 if e.kind == "done" else round(100 * e.progress, 1)
        post = {"epoch": e.epoch, "step": e.step, "tok/s": f"{e.tokens_per_s:,.0f}", "device": e.device}
        if self.members > 1:
            post["model"] = "all" if e.member is None else f"{e.member + 1}/{self.members}"
        if self.branch or e.branch is None:
            post["branch"] = "mean" if e.branch is None else f"{e.branch}/{max(self.branches, self.branch)}"
        if e.train_loss is not None:
            post["loss"] = f"{e.train_loss:.3f}"
        if e.val_loss is not None:
            post["val_ppl"] = f"{e.val_ppl:.1f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()
        if self.track is not None:
            self.track(e)
        if e.kind == "val" and e.branch is None:
            what = (f"the ensemble of {self.members} models" if e.member is None
                    else "the one branch" if self.branch == 1 else f"the mean of the {self.branch} branches")
            self.bar.write(f"{what}: val loss {e.val_loss:.4f}, perplexity {e.val_ppl:.1f}")
        elif e.kind == "val":
            where = (f"branch {e.branch} of {max(self.branches, e.branch)}, " if e.branch else
                     "first run, " if self.branches else "")
            if self.members > 1:
                where = f"model {e.member + 1} of {self.members}, {where}"
            self.bar.write(f"{where}epoch {e.epoch}, step {e.step:,}: val loss {e.val_loss:.4f}, "
                           f"perplexity {e.val_ppl:.1f}")
            if e.sample:
                self.bar.write(f"  sample at step {e.step}: {e.sample}")

    def close(self):
        self.bar.close()


def main():
    args = parse_args()
    rank = init_distributed()  # train() runs DDP when a group exists; only rank 0 prints and saves
    resume = load_train_state(args.resume) if args.resume else None
    if resume is not None and "max_seconds" in vars(args):  # a new budget is time from now on, not in all
        resume = replace(resume, position=replace(resume.position, elapsed=0.0))
    corpus, planned, started = settings(args, rank)
    model_cfg, cfg, schedule, init = planned.model, planned.train, planned.schedule, planned.init
    if args.dry_run:
        print(f"{corpus.name}: {count(len(corpus.ids), 'token')}, {count(len(corpus.vocab), 'word')}\n"
              f"{planned.describe()}")
        return 0
    command = " ".join([invocation(), *sys.argv[1:]])
    recorded = {"command": command, "corpus": corpus.info(), "model": asdict(model_cfg), "train": asdict(cfg),
                "schedule": schedule.as_dict()}
    track = Tracker(args.track, recorded) if args.track and rank == 0 else None
    saved = []

    trained = trained_config(corpus.ids, model_cfg, cfg)  # what a run builds: its unseen words counted

    def save(metrics, state=None, model=None, final=False):
        if model is None:  # from a run's state: what users load is the best so far
            model = WordLSTM(trained)
            model.load_state_dict(state.position.best or state.model)
        save_checkpoint(args.out, model, corpus.vocab, train=asdict(cfg), schedule=schedule.as_dict(),
                        metrics=metrics, corpus=corpus.info(), command=command, resume=state,
                        **started,
                        corpus_ids=corpus.ids if final else None)  # the card's originality: once, at the end
        saved[:] = [state]

    def on_checkpoint(state):
        save(state.metrics(), state)

    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))  # first Ctrl-C: stop and save
    bar = Bar(corpus, planned, track)
    sampler = LiveSampler(corpus.vocab, words=args.sample_words) if args.sample_words > 0 else None
    model, result = train(corpus.ids, model_cfg, cfg, schedule=schedule, on_event=bar, should_stop=lambda: bool(stop),
                          on_checkpoint=on_checkpoint, resume=resume, sampler=sampler,
                          init=init.state if init else None)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if dist.is_initialized():
        dist.barrier()  # no rank tears its connections down while the other still uses them
        dist.destroy_process_group()
    if rank:
        return 0
    bar.close()
    # The mean of branches, an ensemble, or a first run that took no checkpoints (branches or members were
    # planned, and it was stopped or the budget ended there): no run's state holds it, nothing to resume
    if result.branches or result.members > 1 or not saved:
        save(result.metrics(), model=model, final=True)
    else:
        save(result.metrics(), saved[0], final=True)  # the last state, with the final metrics
    if track is not None:
        track.finish({**result.metrics(), "tokens_per_s": result.tokens_per_s})
    print(summary(result, cfg.patience, started.get("start")))
    print(f"saved {os.path.abspath(args.out)}")


def summary(result, patience: int | None, start: str | None = None) -> str:
    """How the training ended, and where it started, in one line for the terminal."""
    partial = f", validated on {result.val_coverage:.0%} of the tail: the time budget" if result.val_coverage < 1 else ""
    if result.stopped_early:
        partial += f"; {result.early_note(patience)}"
    return (f"val_loss {result.val_loss:.4f}  val_ppl {result.val_ppl:.2f}  ({result.steps} steps, "
            f"{result.seconds:.0f} s on {result.device}{', stopped' if result.stopped else ''}{partial}"
            f"{f'; started from {start}' if start else ''})")

