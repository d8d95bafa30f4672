"""Train a word-level LSTM on a text file and write a checkpoint folder.

    wordlstm train data/anna.txt --out runs/anna --max-seconds 300
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

from wordlstm import (SIZES, Corpus, ModelConfig, TrainConfig, UserError, WordLSTM, load_corpus, pick_device,
                      save_checkpoint, train)
from wordlstm.checkpoint import check_writable, load_train_state, read_config, recorded_model_config
from wordlstm.cli import ArgumentParser, invocation
from wordlstm.hub import load_model
from wordlstm.limits import Limits, admit, memory_in_use
from wordlstm.sample import LiveSampler
from wordlstm.train import trained_config
from wordlstm.warmstart import transfer


def parse_args():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", nargs="?", help="a UTF-8 .txt file to learn from (with --resume: the recorded one)")
    p.add_argument("--out", help="checkpoint folder to write (created or replaced; with --resume: that folder)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR, with its settings")
    T, M = TrainConfig, ModelConfig  # every default below is theirs: written once, in the dataclass
    p.add_argument("--init-from", metavar="DIR_OR_REPO_ID",
                   help="start from this model's weights (a checkpoint folder or a Hub repo id): its LSTM, and the "
                        "rows of the words both vocabularies share; the new text keeps its own vocabulary")
    p.add_argument("--save-every", type=float, default=T.save_every, help=f"seconds between checkpoints (default {T.save_every:g})")
    p.add_argument("--epochs", type=int, default=None, help=f"passes over the text (default {T.epochs}, or none with --max-seconds)")
    p.add_argument("--max-seconds", type=float, default=T.max_seconds, help="wall-clock budget for training, in seconds")
    p.add_argument("--seq-len", type=int, default=T.seq_len, help=f"tokens per training window (default {T.seq_len}; book: 100)")
    p.add_argument("--stride", type=int, default=T.stride, help="tokens between window starts (default seq-len; book: 1)")
    p.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=T.shuffle,
                   help="shuffle the windows every epoch, each from a zero state (default); --no-shuffle: parallel "
                        "streams through the text with the state carried across batches")
    p.add_argument("--batch-size", type=int, default=T.batch_size, help=f"windows per step (default {T.batch_size}; book: 32)")
    p.add_argument("--lr", type=float, default=T.lr, help=f"Adam learning rate (default {T.lr}; book: 1e-4)")
    p.add_argument("--schedule", choices=["linear", "constant"], default=T.schedule,
                   help=f"learning rate over the run: linear (warm up, then down to zero at its end: by time with "
                        f"--max-seconds, else by step) or constant (default {T.schedule})")
    p.add_argument("--warmup", type=float, default=T.warmup, help=f"share of the run spent warming up (default {T.warmup})")
    p.add_argument("--weight-decay", type=float, default=T.weight_decay,
                   help=f"AdamW's decoupled weight decay (default {T.weight_decay}: plain Adam)")
    p.add_argument("--patience", type=int, default=T.patience,
                   help=f"stop after this many validations in a row without a new best (default {T.patience}); "
                        f"0: never")
    p.add_argument("--branches", type=int, default=T.branches,
                   help="after the first run, this many more from its best weights, each with its own seed and "
                        "an equal share of --max-seconds; the model is their mean (default 0: one run)")
    p.add_argument("--val-every", type=float, default=T.val_every,
                   help="seconds of training between validations, besides each epoch's end (default: a twentieth "
                        "of --max-seconds; without it, epoch ends only); 0: epoch ends only")
    p.add_argument("--size", choices=list(SIZES),
                   help="a model size: small (the book's 128x3, the default), medium (256x2) or large (1024x2), the "
                        "larger two with AWD-LSTM's regularizers; the model flags below change one of its settings")
    p.add_argument("--embed-dim", type=int, default=M.embed_dim, help=f"word embedding size (default {M.embed_dim}; book: 128)")
    p.add_argument("--hidden-size", type=int, default=M.hidden_size, help=f"LSTM hidden size (default {M.hidden_size}; book: 128)")
    p.add_argument("--num-layers", type=int, default=M.num_layers, help=f"LSTM layers (default {M.num_layers}; book: 3)")
    p.add_argument("--dropout", type=float, default=M.dropout, help=f"dropout between LSTM layers (default {M.dropout}; book: 0.2)")
    p.add_argument("--output-dropout", type=float, default=M.output_dropout,
                   help=f"locked dropout on the LSTM's output, one mask per sequence (default {M.output_dropout}: off)")
    p.add_argument("--embed-dropout", type=float, default=M.embed_dropout,
                   help=f"drops whole words' embeddings (default {M.embed_dropout}: off)")
    p.add_argument("--input-dropout", type=float, default=M.input_dropout,
                   help=f"locked dropout on the LSTM's input, one mask per sequence (default {M.input_dropout}: off)")
    p.add_argument("--weight-drop", type=float, default=M.weight_drop,
                   help=f"DropConnect on the recurrent weights, one mask per batch (default {M.weight_drop}: off)")
    p.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=M.tie_weights,
                   help="a word's embedding is its output vector (needs embed-dim == hidden-size; --size medium "
                        "ties them)")
    p.add_argument("--cache-lambda", type=float, default=M.cache_lambda,
                   help=f"the share of a continuous cache over the text being read in the next-word distribution, "
                        f"in validation, scoring and generation (default {M.cache_lambda}; 0: off)")
    p.add_argument("--cache-theta", type=float, default=M.cache_theta,
                   help=f"how sharply the cache favours the positions most like this one (default {M.cache_theta})")
    p.add_argument("--cache-size", type=int, default=M.cache_size,
                   help=f"how many positions back the cache reads (default {M.cache_size})")
    p.add_argument("--unseen-share", type=float, default=M.unseen_share,
                   help="the share of the next-word distribution kept for the vocabulary's words that the "
                        "training text never has (default: Good-Turing's estimate, the share of training tokens "
                        "that are words seen once; 0: off)")
    p.add_argument("--softmax", choices=["auto", "adaptive", "full"], default=M.softmax,
                   help=f"output layer: adaptive (fast, for 2,000+ words), full (the book's), auto picks (default {M.softmax})")
    p.add_argument("--min-count", type=int, default=Corpus.min_count,
                   help=f"words seen fewer times become <unk> (default {Corpus.min_count}: keep all)")
    p.add_argument("--max-vocab", type=int, default=Corpus.max_vocab, help="keep at most this many words, the rest become <unk>")
    p.add_argument("--val-fraction", type=float, default=T.val_fraction, help=f"tail of the text held out for validation (default {T.val_fraction})")
    p.add_argument("--seed", type=int, default=T.seed, help="random seed: the same seed gives the same model")
    p.add_argument("--device", default=T.device, help=f"auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps (default {T.device})")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=T.precision,
                   help="auto: bf16 autocast on CUDA and on CPUs with AMX, else fp32")
    p.add_argument("--track", nargs="?", const="wordlstm", metavar="PROJECT",
                   help="log the run to trackio (project 'wordlstm' by default; needs pip install 'wordlstm[track]'); "
                        "compare runs with `trackio show`")
    p.add_argument("--sample-words", type=int, default=LiveSampler.words,
                   help=f"after each validation, print a sample of this many words (default {LiveSampler.words}; 0: none)")
    size = p.parse_known_args()[0].size
    if size:  # the preset's settings become the defaults, so that a flag given as well still wins
        p.set_defaults(**SIZES[size])
    return p.parse_args()


# What a run recorded before these settings existed trained with (they are absent from its config.json).
BEFORE_THE_RECIPE = {"schedule": "constant", "shuffle": False, "patience": None}


def settings(args, rank: int):
    """(corpus, model config, train config, what its weights started from) for a new run,
    or for the run in --resume."""
    if not args.resume:
        if not args.corpus or not args.out:
            raise UserError("give a corpus and --out DIR (or --resume DIR)")
        epochs = args.epochs if args.epochs is not None else (None if args.max_seconds else TrainConfig.epochs)
        cfg = TrainConfig.from_dict(vars(args), epochs=epochs, patience=args.patience or None)
        if rank == 0:  # the one process that writes
            check_writable(args.out)  # fail now, not after an hour of training
        corpus = load_corpus(args.corpus, min_count=args.min_count, max_vocab=args.max_vocab)
        model_cfg = ModelConfig.from_dict(vars(args), vocab_size=len(corpus.vocab))
        return corpus, model_cfg, cfg, None
    if args.init_from:
        raise UserError("--init-from starts a new run; a resumed run goes on from its own weights")
    config = read_config(args.resume)
    budget = {}
    if args.epochs is not None or args.max_seconds is not None:  # a new budget for this run
        budget = {"epochs": args.epochs, "max_seconds": args.max_seconds}
    # A run recorded before the schedule, early stopping and shuffled windows existed goes on as it began.
    recorded_train = {**BEFORE_THE_RECIPE, **config.get("train", {})}
    cfg = TrainConfig.from_dict(recorded_train, **budget, save_every=args.save_every)
    recorded = config.get("corpus", {})
    corpus = load_corpus(args.corpus or recorded.get("name"), min_count=recorded.get("min_count", 1),
                         max_vocab=recorded.get("max_vocab"))
    if corpus.sha256 != recorded.get("sha256"):
        raise UserError(f"{corpus.name} is not the text this run trained on (sha256 differs); give that text")
    args.out = args.out or args.resume
    return corpus, recorded_model_config(config, args.resume), cfg, config.get("init_from")


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


def main():
    args = parse_args()
    rank = init_distributed()  # train() runs DDP when a group exists; only rank 0 prints and saves
    resume = load_train_state(args.resume) if args.resume else None
    corpus, model_cfg, cfg, init_from = settings(args, rank)
    cost = None
    if not dist.is_initialized():  # under torchrun each process would judge alone
        limits = replace(Limits.from_env(), place="this machine")  # WORDLSTM_MAX_MEMORY_MB=0 lifts it
        cfg, cost = admit(len(corpus.ids), model_cfg, cfg, limits, memory_in_use(), pick_device(cfg.device),
                          word_counts=corpus.vocab.counts)
    init = None
    if args.init_from:  # a new run (settings() refuses it with --resume)
        source = load_model(args.init_from)
        init = transfer(source.model, source.vocab, model_cfg, corpus.vocab, corpus.vocab.counts)
        init_from = init.describe(args.init_from)
        if rank == 0:
            print(f"starting from {args.init_from}: {init.shared:,} of {len(corpus.vocab):,} words shared, "
                  f"{init.copied_output:,} with their output rows", file=sys.stderr)
    command = " ".join([invocation(), *sys.argv[1:]])
    track = Tracker(args.track, {"command": command, "corpus": corpus.info(), "model": asdict(model_cfg),
                                 "train": asdict(cfg)}) if args.track and rank == 0 else None
    saved = []

    trained = trained_config(corpus.ids, model_cfg, cfg)  # what train() builds: its unseen words counted

    def save(metrics, state=None, weights=None, final=False):
        model = WordLSTM(trained)
        model.load_state_dict(weights or state.position.best or state.model)  # what users load: the best so far
        save_checkpoint(args.out, model, corpus.vocab, train=asdict(cfg), metrics=metrics, corpus=corpus.info(),
                        command=command, resume=state, **({"init_from": init_from} if init_from else {}),
                        corpus_ids=corpus.ids if final else None)  # the card's originality: once, at the end
        saved[:] = [state]

    def on_checkpoint(state):
        save(state.metrics(), state)

    stop, bars = [], []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))  # first Ctrl-C: stop and save

    def on_event(e):
        if e.kind == "start":  # the data checks passed: from here on, show progress
            print(f"{corpus.name}: {len(corpus.ids):,} tokens, {len(corpus.vocab):,} words; training on {e.device}"
                  + (f"; {cost.summary()}" if cost else ""), file=sys.stderr)
            bars.append(tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}{postfix}]"))
        bar = bars[0]
        bar.n = round(100 * e.progress, 1)
        post = {"epoch": e.epoch, "step": e.step, "tok/s": f"{e.tokens_per_s:,.0f}", "device": e.device}
        if cfg.branches:
            post["branch"] = "mean" if e.branch is None else f"{e.branch}/{cfg.branches}"
        if e.train_loss is not None:
            post["loss"] = f"{e.train_loss:.3f}"
        if e.val_loss is not None:
            post["val_ppl"] = f"{e.val_ppl:.1f}"
        bar.set_postfix(post, refresh=False)
        bar.refresh()
        if track is not None:
            track(e)
        if e.kind == "val" and e.branch is None:
            bar.write(f"the mean of the {cfg.branches} branches: val loss {e.val_loss:.4f}, perplexity {e.val_ppl:.1f}")
        elif e.kind == "val":
            where = f"branch {e.branch} of {cfg.branches}, " if e.branch else "first run, " if cfg.branches else ""
            bar.write(f"{where}epoch {e.epoch}, step {e.step:,}: val loss {e.val_loss:.4f}, perplexity {e.val_ppl:.1f}")
            if e.sample:
                bar.write(f"  sample at step {e.step}: {e.sample}")

    sampler = LiveSampler(corpus.vocab, words=args.sample_words) if args.sample_words > 0 else None
    model, result = train(corpus.ids, model_cfg, cfg, on_event=on_event, should_stop=lambda: bool(stop),
                          on_checkpoint=on_checkpoint, resume=resume, sampler=sampler,
                          init=init.state if init else None)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if dist.is_initialized():
        dist.barrier()  # no rank tears its connections down while the other still uses them
        dist.destroy_process_group()
    if rank:
        return 0
    bars[0].close()
    if cfg.branches:  # the mean of the branches: no run's state holds it, and there is nothing to resume
        save(result.metrics(), weights=model.state_dict(), final=True)
    else:
        save(result.metrics(), saved[0], final=True)  # the last state, with the final metrics
    if track is not None:
        track.finish({**result.metrics(), "tokens_per_s": result.tokens_per_s})
    path = os.path.abspath(args.out)
    partial = f", validated on {result.val_coverage:.0%} of the tail: the time budget" if result.val_coverage < 1 else ""
    if result.stopped_early:
        partial += f"; {result.early_note(cfg.patience)}"
    print(f"val_loss {result.val_loss:.4f}  val_ppl {result.val_ppl:.2f}  "
          f"({result.steps} steps, {result.seconds:.0f} s on {result.device}{', stopped' if result.stopped else ''}"
          f"{partial})")
    print(f"saved {path}")

