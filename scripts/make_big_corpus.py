"""Write a large test corpus by repeating the bundled text's paragraphs in shuffled order.

    python scripts/make_big_corpus.py /tmp/big.txt --mb 100
    python scripts/bench.py --prep-only --corpus /tmp/big.txt

For the large-corpus benchmark; the file is made on demand, never committed.
"""
import os
import random
import sys

from wordlstm.commands.cli import ArgumentParser, run

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="file to write")
    p.add_argument("--mb", type=float, default=100, help="size in MiB (default 100)")
    p.add_argument("--source", default=os.path.join(HERE, "..", "data", "anna.txt"), help="text to repeat")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with open(args.source, encoding="utf-8") as f:
        paragraphs = [para for para in f.read().split("\n\n") if para.strip()]
    rng, target, written = random.Random(args.seed), int(args.mb * 2**20), 0
    with open(args.out, "w", encoding="utf-8") as f:
        while written < target:
            rng.shuffle(paragraphs)
            for para in paragraphs:
                written += f.write(para + "\n\n")
                if written >= target:
                    break
    print(f"wrote {args.out}: {written / 2**20:.1f} MiB from {len(paragraphs):,} shuffled paragraphs")


if __name__ == "__main__":
    sys.exit(run(main))
