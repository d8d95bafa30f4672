"""Train a word-level LSTM on a text file and write a checkpoint folder. (`wordlstm train`; the code is in wordlstm/commands/train.py).

    python scripts/train.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.train import main

if __name__ == "__main__":
    sys.exit(run(main))
