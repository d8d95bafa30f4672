"""New model against a warm start from the default model, on whole texts and on their first 100K and 250K
tokens: the measurements behind auto's start (docs/recipe.md#warm-start).

    python scripts/warm_start_table.py ../shared/corpora/tinyshakespeare.txt --seconds 60 --seeds 0 1 2
    python scripts/warm_start_table.py ../shared/corpora/*.txt --seconds 60 --slices 100000 250000 --foreign

Each cell is `wordlstm bench --no-baseline --size auto` (the defaults, the bench's held-out tail), run one
at a time; prints a Markdown row per text (its tokens, the share the default model's words cover, each
start's perplexities, warm over new, and what auto chooses), then one JSON line with every figure.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from wordlstm.planning.defaults import AUTO
from wordlstm.planning.start import choose_start, default_model
from wordlstm.text.data import load_corpus
from wordlstm.text.tokenizer import tokenize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(REPO, "models", "anna")
# A fixed permutation of the alphabet: the same text in a "language" that shares no word with the novel's,
# its grammar and sizes unchanged.
CIPHER = str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                       "qwertzuiopasdfghjklyxcvbnmQWERTZUIOPASDFGHJKLYXCVBNM")


def first_tokens(text: str, n: int) -> str:
    """`text` up to the line that holds its n-th token (its lines whole)."""
    seen, lines = 0, []
    for line in text.splitlines(keepends=True):
        lines.append(line)
        seen += len(tokenize(line))
        if seen >= n:
            break
    return "".join(lines)


def texts(paths, slices, foreign, folder):
    """(name, path) of each text to measure, slices and the enciphered text written into `folder`."""
    for path in paths:
        name = os.path.basename(path).removesuffix(".txt")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for n in slices:
            if len(tokenize(text)) > n:
                out = os.path.join(folder, f"{name}-{n // 1000}k.txt")
                with open(out, "w", encoding="utf-8") as f:
                    f.write(first_tokens(text, n))
                yield f"{name}, first {n // 1000}K", out
        yield name, path
        if foreign:
            out = os.path.join(folder, f"{name}-enciphered.txt")
            with open(out, "w", encoding="utf-8") as f:
                f.write(first_tokens(text, min(slices or [100_000])).translate(CIPHER))
            yield f"{name}, first {min(slices or [100_000]) // 1000}K, enciphered", out


def bench(path, seconds, seed, start) -> dict:
    cmd = [sys.executable, os.path.join(REPO, "scripts", "bench.py"), "--no-baseline", "--size", "auto",
           "--seconds", str(seconds), "--seed", str(seed), "--init-from", start, "--corpus", path, "--gen-tokens", "20"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["ours"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpora", nargs="+")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--slices", type=int, nargs="*", default=[], help="also each text's first N tokens")
    p.add_argument("--foreign", action="store_true", help="also each text's first slice, enciphered")
    p.add_argument("--starts", nargs="+", default=["new", DEFAULT_MODEL])
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, path in texts(args.corpora, args.slices, args.foreign, folder):
            ppl = {}
            for seed in args.seeds:  # new and warm in turn: the machine's mood is the same for both
                for start in args.starts:
                    r = bench(path, args.seconds, seed, start)
                    ppl.setdefault(start, []).append(r["val_ppl"])
                    print(f"{name} seed {seed} {os.path.basename(start)}: {r['val_ppl']} (from {r['start']})",
                          file=sys.stderr, flush=True)
            new, warm = (statistics.mean(ppl[s]) for s in args.starts[:2])
            auto = choose_start(load_corpus(path, written=False), AUTO, default=default_model()).name  # auto's
            rows.append({"text": name, "tokens": r["tokens"], "coverage": r["coverage"], "seconds": args.seconds,
                         **{os.path.basename(s): ppl[s] for s in args.starts}, "ratio": round(warm / new, 3),
                         "auto": auto})
            cells = " | ".join(" / ".join(f"{v:.1f}" for v in ppl[s]) for s in args.starts)
            print(f"| {name} | {r['tokens']:,} | {r['coverage']:.1%} | {args.seconds:g} s | {cells} "
                  f"| **{warm / new:.2f}** | {auto} |", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
