"""Benchmark our pipeline against the book's (../shared/baselines/book_ch8.py), side by side. (`wordlstm bench`; the code is in wordlstm/commands/bench.py).

    python scripts/bench.py --help
"""
import sys

from wordlstm.commands.bench import main
from wordlstm.commands.cli import run

if __name__ == "__main__":
    sys.exit(run(main))
