"""Score a text with a model: its perplexity, and the words that surprised the model most. (`wordlstm score`; the code is in wordlstm/commands/score.py).

    python scripts/score.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.score import main

if __name__ == "__main__":
    sys.exit(run(main))
