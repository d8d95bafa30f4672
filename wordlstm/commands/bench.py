"""Benchmark our pipeline against the book's (../shared/baselines/book_ch8.py), side by side.

    wordlstm bench --corpus ../shared/corpora/anna.txt --seconds 60
    wordlstm bench --prep-only --corpus big.txt      # preparation only, ours
    wordlstm bench --analysis --corpus ../shared/corpora/anna.txt --seconds 60   # live samples, score, copies
    wordlstm bench --surface --corpus ../shared/corpora/tinyshakespeare.txt      # the text as written, no training
    wordlstm bench --ablation --corpus ../shared/corpora/anna.txt --seconds 60   # each piece of the recipe
    wordlstm bench --no-baseline --size medium --seconds 300 --corpus ../shared/corpora/anna.txt

Both run on the same corpus, one after the other, with the same training budget,
at the book's model size (ours: another with --size), evaluated with the baseline's protocol (10% tail,
non-overlapping windows from a zero state). Prints a table, then one JSON line:
{"ours": {...}, "baseline": {...}, "ratios": {...}}, every ratio bigger-is-better.
"""
import copy
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import torch

import numpy as np

from wordlstm import (SIZES, LiveSampler, ModelConfig, NgramIndex, TrainConfig, detokenize, evaluate, generate,
                      load_corpus, originality, pick_device, score, split, stream, train)
from wordlstm.commands.cli import ArgumentParser
from wordlstm.model.ensemble import Ensemble, members
from wordlstm.planning.cost import cluster_shares, cluster_widths, flops_per_token, plan
from wordlstm.planning.defaults import AUTO, MIN_WORDS, SIZE_NAMES
from wordlstm.planning.planner import Ask, plan_training
from wordlstm.planning.start import NEW, default_model
from wordlstm.share.hub import load_model
from wordlstm.text.lines import ASK
from wordlstm.text.surface import form_misses, reproduced
from wordlstm.training.device import use_bf16
from wordlstm.use.sample import default_prompt
from wordlstm.use.suggest import Suggester

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a clone's root
DEFAULT_BASELINE = os.path.join(REPO, "..", "shared", "baselines", "book_ch8.py")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Dense bf16 tensor-core peaks (FLOP/s) of whole cards, and their multiprocessors, for model-FLOPs
# utilisation; by name, since CUDA does not report them. A MIG slice (ZeroGPU's "NVIDIA H200 MIG 3g.71gb")
# has its share of the multiprocessors, and of the peak.
PEAK_BF16 = {"H200": (989e12, 132), "H100": (989e12, 132), "A100": (312e12, 108), "L40S": (362e12, 142),
             "A10G": (125e12, 80), "L4": (121e12, 58), "T4": (65e12, 40)}


def mfu(device_name, flops_per_s, multiprocessors=None):
    """Model-FLOPs utilisation against the card's peak, or its slice's with `multiprocessors`; None off a
    known GPU."""
    peak, whole = next((v for name, v in PEAK_BF16.items() if name in device_name), (None, None))
    if peak is None:
        return None
    return round(flops_per_s / (peak * min(1.0, (multiprocessors or whole) / whole)), 4)


def multiprocessors(device_name) -> int | None:
    """The CUDA device's multiprocessors (a MIG slice's own), where training ran on one."""
    if not torch.cuda.is_available() or torch.cuda.get_device_name() not in device_name:
        return None
    return torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count


def bench_prep(path, max_vocab=None, lines="no"):
    # Prep is measured as the baseline measures it: wall time and growth of the
    # peak RSS in this process, from the raw file to windows ready to train on.
    rss0, t0 = peak_rss_mib(), time.perf_counter()
    # What training needs: the ids and the vocabulary, as the book prepares them. The written forms and
    # sentence openings (for text and prompts that read as the corpus does) are for people, not counted.
    corpus = load_corpus(path, max_vocab=max_vocab, written=False, lines=lines)
    report = {"system": "wordlstm", "tokens": len(corpus.ids), "vocab_size": len(corpus.vocab),
              "lines": corpus.lines.keep,
              "prep_seconds": round(time.perf_counter() - t0, 3),
              "prep_peak_rss_mib": round(max(peak_rss_mib() - rss0, 0.1), 1)}
    return corpus, report


# The recipe, a piece at a time (--ablation): each row adds one change to the row above.
NO_SHARE = {"unseen_share": 0.0}
ALONE = {"cache_lambda": 0.0, **NO_SHARE}  # the model's own distribution: no cache, no unseen words' share
MEDIUM = SIZES["medium"]
ABLATION = [
    ("the book's optimiser, streams: lr 5e-3, constant, validation every epoch",
     {"lr": 5e-3, "schedule": "constant", "patience": None, "shuffle": False, "val_every": 0, **ALONE}),
    ("+ linear decay to zero over the budget, peak lr 1e-2",
     {"patience": None, "shuffle": False, "val_every": 0, **ALONE}),
    ("+ validation by the clock; patience 5, then anneal", {"shuffle": False, **ALONE}),
    ("+ shuffled windows", ALONE),
    ("+ a continuous cache", NO_SHARE),
    ("+ the unseen words' share (--size small, the book's size)", {}),
    ("--size medium, untied: 256x2, batch 16, AWD-LSTM's dropouts", {**MEDIUM, "tie_weights": False, **ALONE}),
    ("+ tied weights", {**MEDIUM, **ALONE}),
    ("+ a continuous cache", {**MEDIUM, **NO_SHARE}),
    ("+ the unseen words' share (--size medium)", MEDIUM),
]


def bench_plan(corpus, seconds, device, softmax="auto", precision="auto", size="small", branches=None, seed=42,
               start=AUTO, **recipe):
    """The bench's training: `size`'s (auto's choice for "auto") at `seed`, with `recipe`'s changes to the
    configs, from `start` (auto, new, or a model's folder or repo id), planned as the app and the CLI plan theirs."""
    settings = dict(seed=seed, device=device, precision=precision, softmax=softmax, **recipe)
    source = None if start in (AUTO, NEW) else load_model(start)
    return plan_training(corpus, Ask(size, max_seconds=seconds, branches=branches, settings=settings, start=start),
                         device=str(pick_device(device)), source=source, default=default_model())


def train_ours(corpus, seconds, device, softmax="auto", precision="auto", size="small", branches=None, **recipe):
    """Train the bench's plan; returns the model, the TrainingPlan, the TrainResult and the protocol's validation
    loss."""
    planned = bench_plan(corpus, seconds, device, softmax, precision, size, branches, **recipe)
    if planned.why:
        print(planned.why, file=sys.stderr)
    model_cfg, cfg = planned.model, planned.train
    model, result = train(corpus.ids, model_cfg, cfg, schedule=planned.schedule, init=planned.init and planned.init.state)
    # The protocol's figure: the kept weights on the whole tail. The loop's last validation
    # may read only part of it, to end within the time budget.
    _, val_ids = split(corpus.ids, cfg.seq_len, cfg.val_fraction)
    return model, planned, result, evaluate(model, val_ids, cfg.seq_len)


def without(model, **off):
    """The same weights, with some of the config's mixture off (cache_lambda=0, unseen_share=0): what
    that part adds, with no training."""
    if isinstance(model, Ensemble):  # each member mixes its own distribution
        return Ensemble(replace(model.config, **off), [without(m, **off) for m in model.members])
    plain = copy.copy(model)  # a shallow copy: the modules, and so the weights, are shared
    plain.config = replace(model.config, **off)
    return plain


def bench_ablation(path, seconds, device, lines="no") -> list[dict]:
    corpus = load_corpus(path, lines=lines)
    rows = []
    for name, recipe in ABLATION:
        _, _, result, val_loss = train_ours(corpus, seconds, device, start=NEW, **recipe)  # the recipe alone
        rows.append({"recipe": name, "val_ppl": round(math.exp(val_loss), 1), "epochs": round(result.epochs, 2),
                     "seconds": round(result.seconds, 1), "stopped_early": result.stopped_early,
                     "train_tokens_per_s": round(result.tokens_per_s)})
        print(f"{rows[-1]['val_ppl']:8.1f}  {name}", file=sys.stderr)
    return rows


def admission_check(corpus, model_cfg, cfg, result, device) -> dict:
    """What admission estimated (plan()) against what the run measured: a step's time and, on CUDA, the
    peak memory torch allocated; each as a ratio, measured / estimated (issue: within 30%)."""
    device = pick_device(device)
    cost = plan(len(corpus.ids), model_cfg, cfg, device, word_counts=corpus.vocab.counts)
    step = result.train_seconds / max(1, result.steps)
    report = {"plan_step_ms": round(1000 * cost.seconds_per_step, 2), "step_ms": round(1000 * step, 2),
              "step_vs_plan": round(step / cost.seconds_per_step, 2), "plan_peak_mib": round(cost.peak_bytes / 2**20)}
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
        report.update(cuda_peak_mib=round(peak / 2**20), peak_vs_plan=round(peak / cost.peak_bytes, 2))
    return report


def bench_ours(path, seconds, gen_tokens, device, softmax="auto", precision="auto", lines="no", **recipe):
    corpus, report = bench_prep(path, lines=lines)
    model, planned, result, val_loss = train_ours(corpus, seconds, device, softmax, precision, **recipe)
    model_cfg, cfg, default = planned.model, planned.train, default_model()
    report.update(start=planned.start.name, coverage=default and round(corpus.vocab.coverage(default.vocab), 3))
    # Forward + backward (3x forward) FLOPs per training token, the clusters weighted by the text's words;
    # an ensemble's members train one at a time, so a token goes through one of them.
    shares = cluster_shares(model_cfg, corpus.vocab.counts)
    flops = 6 * flops_per_token(model_cfg, shares, cluster_widths(members(model)[0]))
    _, val_ids = split(corpus.ids, cfg.seq_len, cfg.val_fraction)
    for name, off in [("cache", dict(cache_lambda=0.0)), ("share", dict(unseen_share=0.0))]:
        if model.config != replace(model.config, **off):
            report[f"val_ppl_without_{name}"] = round(math.exp(evaluate(without(model, **off), val_ids, cfg.seq_len)), 2)
    # The device as the baseline is given it (result.device, for people, also names the card and precision)
    where = pick_device(device)
    report.update(device=str(where), precision="bf16" if use_bf16(where, precision) else "fp32",
                  size=recipe.get("size", "small"), leftover_branches=result.leftover_branches,
                  model=f"{model_cfg.num_layers}x{model_cfg.hidden_size}",
                  softmax=model_cfg.softmax, lr=cfg.lr, batch_size=cfg.batch_size,
                  train_steps=result.steps, branches=result.branches, members=result.members, train_epochs=round(result.epochs, 2),
                  train_tokens_per_s=round(result.tokens_per_s, 1), val_loss=round(val_loss, 4),
                  train_flops_per_token=round(flops),
                  mfu=mfu(result.device, flops * result.tokens_per_s, multiprocessors(result.device)),
                  val_ppl=round(math.exp(val_loss), 2), last_val_coverage=round(result.val_coverage, 4),
                  unseen_share=model.config.unseen_share, unseen_words=len(model.config.unseen_ids),
                  **admission_check(corpus, model_cfg, cfg, result, device))

    # Ours takes a tenth of a second, so one run is at the mercy of a noisy
    # machine and of the process settling after training (the first runs are
    # up to 30% slower): one warm-up run, then the median of five. The
    # baseline's single run lasts a second or more, which averages both out.
    prompt = corpus.vocab.encode(" ".join(  # the baseline's prompt: the text's first four words
        corpus.vocab.itos[i] for i in corpus.ids[:4].tolist()))
    model = model.cpu()
    models = {"": model, "_without_cache": without(model, cache_lambda=0.0)} if model_cfg.cache_lambda else {"": model}
    times, texts = {k: [] for k in models}, {}
    for seed in range(6):  # with and without the cache in turn: the machine's mood is the same for both
        for k, m in models.items():
            t0 = time.perf_counter()
            texts[k] = "".join(stream(m, corpus.vocab, prompt, max_new_tokens=gen_tokens, temperature=1.0, seed=seed))
            times[k].append(time.perf_counter() - t0)
    for k, ts in times.items():
        gen_s = statistics.median(ts[1:])
        report.update({f"gen_seconds{k}": round(gen_s, 3), f"gen_tokens_per_s{k}": round(gen_tokens / gen_s, 1)})
    report.update(gen_tokens=gen_tokens, sample=texts[""][:300])
    return report


def bench_surface(path, lines="auto", model=None, words=2000) -> dict:
    """The surface measure (text/surface.reproduced) of the text at `path`, printed for people; its figures. With
    `model` (a checkpoint trained on that text), also what `words` words of its text get wrong of the text's form
    (surface.form_misses)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    generated = model and generated_form(model, text, words)
    rules, learned = reproduced(text, learned=False, lines=lines), reproduced(text, lines=lines)
    print(f"{path}: {learned['surface']:.2%} of the last tenth's {learned['chunks']:,} chunks written back exactly "
          f"({rules['surface']:.2%} by the rules alone; {learned['entries']:,} learned entries; "
          f"lines {'kept' if learned['lines'] else 'not kept'})")
    for kind, n in sorted(learned["misses"].items(), key=lambda kv: -kv[1]):
        shown = "; ".join(f"{a!r} as {b!r}" for a, b in learned["examples"][kind][:3])
        print(f"  {n / learned['chunks']:6.2%}  {kind}: {shown}")
    if generated:
        print(f"{model}: {generated['words']:,} words written at the defaults, {generated['line_breaks']:,} line "
              f"breaks; " + ", ".join(f"{k} {n}" for k, n in generated["misses"].items()))
    return {"corpus": path, "surface": round(learned["surface"], 4), "rules": round(rules["surface"], 4),
            "chunks": learned["chunks"], "entries": learned["entries"], "lines": learned["lines"],
            "misses": learned["misses"], **({"generated": generated} if generated else {})}


def generated_form(model, training: str, words: int) -> dict:
    """surface.form_misses of texts the checkpoint `model` writes at the defaults (1,000 tokens each, from its
    default prompt, seeds 0, 1, ...) until they hold `words` words."""
    ckpt, texts, seed, seen = load_model(model), [], 0, 0
    while seen < words:
        texts.append(generate(ckpt.model, ckpt.vocab, default_prompt(ckpt.vocab), max_new_tokens=1000, seed=seed))
        seen, seed = form_misses(texts, "")["words"], seed + 1
    return form_misses(texts, training)


def median_seconds(fn, runs=5) -> float:
    times = []
    for _ in range(runs + 1):  # one warm-up run
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def sorted_prefixes_seconds(ids: np.ndarray, n: int) -> float:
    """The suffix-array alternative to hashed n-grams: sort every position by its first
    n tokens (prefix doubling with lexsort, as a suffix array is built), the part a
    lookup of n tokens needs. Returns its build time."""
    t0, rank, k = time.perf_counter(), ids.astype(np.int64), 1
    while k < n:
        second = np.full(len(rank), -1, np.int64)
        second[:-k] = rank[k:]
        order = np.lexsort((second, rank))
        new_key = np.concatenate([[0], np.cumsum((np.diff(rank[order]) != 0) | (np.diff(second[order]) != 0))])
        rank = np.empty_like(rank)
        rank[order] = new_key
        k *= 2
    return time.perf_counter() - t0


def bench_analysis(path, seconds, device, min_words=MIN_WORDS, lines="no"):
    """What showing a user what the model learned costs: live samples during training,
    scoring 10,000 tokens, the originality index and check, and the writing box's suggestions."""
    corpus = load_corpus(path, lines=lines)
    validations = []
    cfg = TrainConfig(epochs=None, max_seconds=seconds, seed=42, device=device)
    model, result = train(corpus.ids, ModelConfig(len(corpus.vocab)), cfg, sampler=LiveSampler(corpus.vocab),
                          on_event=lambda e: e.kind == "val" and validations.append(e.sample))
    model = model.cpu()
    tail = detokenize(corpus.vocab.itos[i] for i in corpus.ids[-10_001:].tolist())  # 10,000 predictions
    score_s = median_seconds(lambda: score(model, corpus.vocab, tail), runs=3)
    t0 = time.perf_counter()
    index = NgramIndex(corpus.ids, min_words)
    index_s = time.perf_counter() - t0
    text = generate(model, corpus.vocab, "the", max_new_tokens=999, seed=0)
    ids = corpus.vocab.lookup(corpus.vocab.tokenize(text))
    check_s = median_seconds(lambda: originality(corpus.ids, ids, min_words, index))
    return {"corpus": path, "tokens": len(corpus.ids), "train_seconds": round(result.seconds, 1),
            "validations": len(validations), "sample_seconds": round(result.sample_seconds, 3),
            "sample_share": round(result.sample_seconds / result.seconds, 4),
            "score_tokens": 10_000, "score_seconds": round(score_s, 3),
            "index_seconds": round(index_s, 2), "index_mib": round((index.hashes.nbytes + index.starts.nbytes) / 2**20, 1),
            "sorted_prefixes_seconds": round(sorted_prefixes_seconds(np.asarray(corpus.ids), min_words), 2),
            "check_tokens": len(ids), "check_ms": round(1000 * check_s, 2),
            "novel_fraction": round(originality(corpus.ids, ids, min_words, index).novel_fraction, 3),
            **suggestion_ms(model, corpus.vocab, tail)}


def suggestion_ms(model, vocab, text: str, words: int = 300) -> dict:
    """The writing box's latency: `words` words of `text` typed one at a time, then keystroke by keystroke
    (mid-word, the suggestions are completions), 8 suggestions each; p50 and p95 in ms."""
    report = {}
    for mode in ("word", "keystroke"):
        suggester, typed, times = Suggester(model, vocab), "", []
        suggester("", 8)  # the set-up (the stepper's matrices), once per model
        for word in text.split()[:words]:
            for piece in [word[:i] for i in range(1, len(word)) if mode == "keystroke"] + [word + " "]:
                t0 = time.perf_counter()
                suggester(typed + piece, 8)
                times.append(1000 * (time.perf_counter() - t0))
            typed += word + " "
        report[f"suggest_{mode}_ms_p50"] = round(statistics.median(times), 2)
        report[f"suggest_{mode}_ms_p95"] = round(statistics.quantiles(times, n=20)[18], 2)
    return report


def bench_baseline(script, path, seconds, gen_tokens, device):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "baseline.json")
        cmd = [sys.executable, script, path, "--train-seconds", str(seconds), "--gen-tokens", str(gen_tokens),
               "--json", out, "--device", device]  # ours's device: the ratio is measured side by side
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(REPO, "data", "anna.txt"), help="text file to benchmark on")
    p.add_argument("--seconds", type=float, default=60, help="training budget for each side, in seconds")
    p.add_argument("--gen-tokens", type=int, default=200, help="tokens to generate for the speed test")
    p.add_argument("--baseline", default=DEFAULT_BASELINE, help="the book's pipeline (book_ch8.py)")
    p.add_argument("--no-baseline", action="store_true", help="measure ours only")
    p.add_argument("--device", default="cpu", help="the device of both sides: the book's code runs on it too")
    p.add_argument("--softmax", default="auto", choices=["auto", "adaptive", "full"],
                   help="our output layer (the book's is full)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="our training precision")
    p.add_argument("--size", default="small", choices=SIZE_NAMES,
                   help="our model size (default small: the book's model, as the baseline trains; auto: the app's "
                        "and the CLI's default)")
    p.add_argument("--branches", type=int, default=None,
                   help="ours: after the first run, this many more from its best weights, the model their mean "
                        "(default: auto's choice; with a named size, 0)")
    p.add_argument("--seed", type=int, default=42, help="ours: the training's seed")
    p.add_argument("--init-from", default=AUTO, metavar="auto|new|DIR_OR_REPO_ID",
                   help="ours: where the weights start, as `wordlstm train --init-from` (auto: the default model "
                        "for a small text in words it knows, else new; with the book's size, always new)")
    p.add_argument("--lines", choices=ASK, default=None,
                   help="ours: whether line breaks are tokens, as `wordlstm train --lines` (default: auto with "
                        "--no-baseline or --surface; else no: both sides predict the book's tokens)")
    p.add_argument("--prep-only", action="store_true",
                   help="only read, clean, count and encode the corpus (ours); print one JSON line")
    p.add_argument("--max-vocab", type=int, default=None, help="with --prep-only: cap the vocabulary")
    p.add_argument("--ablation", action="store_true",
                   help="ours only: train once per step of the recipe (see ABLATION), one JSON line of perplexities")
    p.add_argument("--surface", action="store_true",
                   help="no training: how much of the text's last tenth its first nine tenths write back as written "
                        "(case, spacing, marks), the learned surface against the rules alone; one JSON line last")
    p.add_argument("--model", default=None, metavar="DIR_OR_REPO_ID",
                   help="with --surface: also check 2,000 words this model (trained on --corpus) writes: doubled or "
                        "empty quotations, names in lower case, words split at an apostrophe, its line breaks")
    p.add_argument("--analysis", action="store_true",
                   help="ours only: the cost of live samples, of scoring 10,000 tokens, and of the originality check")
    return p.parse_args(argv)


def main():
    args = parse_args()

    if args.analysis:
        print(json.dumps(bench_analysis(args.corpus, args.seconds, args.device, lines=args.lines or "no")))
        return 0
    if args.surface:
        print(json.dumps(bench_surface(args.corpus, args.lines or "auto", args.model)))
        return 0
    if args.ablation:
        print(json.dumps({"corpus": args.corpus, "seconds": args.seconds,
                          "ablation": bench_ablation(args.corpus, args.seconds, args.device, args.lines or "no")}))
        return 0

    if args.prep_only:
        _, report = bench_prep(args.corpus, args.max_vocab, args.lines or "no")
        print(json.dumps({**report, "corpus": args.corpus, "bytes": os.path.getsize(args.corpus),
                          "peak_rss_mib": round(peak_rss_mib(), 1)}))
        return 0

    baseline, ratios = None, {}
    if not args.no_baseline:
        if not os.path.isfile(args.baseline):
            print(f"error: baseline {args.baseline} not found; pass --baseline PATH or --no-baseline", file=sys.stderr)
            return 2
        # The baseline goes first: a child process inherits its parent's peak RSS
        # (ru_maxrss survives fork and exec), so it must start before ours grows.
        print(f"running the book's pipeline for {args.seconds:g} s of training...", file=sys.stderr)
        device = str(pick_device(args.device))
        baseline = bench_baseline(args.baseline, args.corpus, args.seconds, args.gen_tokens, device)
    print(f"running ours for {args.seconds:g} s of training...", file=sys.stderr)
    ours = bench_ours(args.corpus, args.seconds, args.gen_tokens, args.device, args.softmax, args.precision,
                      size=args.size, branches=args.branches, seed=args.seed, start=args.init_from,
                      lines=args.lines or ("auto" if args.no_baseline else "no"))
    if baseline:
        div = lambda a, b: round(a / b, 2) if b else None  # noqa: E731
        ratios = {"prep_time": div(baseline["prep_seconds"], ours["prep_seconds"]),
                  "prep_memory": div(baseline["prep_peak_rss_mib"], ours["prep_peak_rss_mib"]),
                  "train_tokens_per_s": div(ours["train_tokens_per_s"], baseline["train_tokens_per_s"]),
                  "val_ppl": div(baseline["val_ppl"], ours["val_ppl"]),
                  "gen_tokens_per_s": div(ours["gen_tokens_per_s"], baseline["gen_tokens_per_s"])}
    print_table(args, ours, baseline, ratios)
    print(json.dumps({"ours": ours, "baseline": baseline, "ratios": ratios}))


def print_table(args, ours: dict, baseline: dict | None, ratios: dict):
    """Ours against the book's, a row per measure, for people (the JSON line follows for machines)."""
    rows = [("prep seconds", "prep_seconds", "prep_time"), ("prep peak MiB", "prep_peak_rss_mib", "prep_memory"),
            ("train tokens/s", "train_tokens_per_s", "train_tokens_per_s"), ("val perplexity", "val_ppl", "val_ppl"),
            ("gen tokens/s", "gen_tokens_per_s", "gen_tokens_per_s")]
    print(f"corpus {args.corpus}: {ours['tokens']:,} tokens, {ours['vocab_size']:,} words; "
          f"{args.seconds:g} s of training each, ours from {ours['start']}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':16}{'ours':>12}{'book':>12}{'ratio':>9}")
    for label, key, rkey in rows:
        b = baseline[key] if baseline else float("nan")
        r = ratios.get(rkey)
        print(f"{label:16}{ours[key]:>12,.1f}{b:>12,.1f}{(f'{r:.1f}x' if r else '-'):>9}")

