"""The model's most likely next words after a text. (`wordlstm suggest`; the code is in wordlstm/commands/suggest.py).

    python scripts/suggest.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.suggest import main

if __name__ == "__main__":
    sys.exit(run(main))
