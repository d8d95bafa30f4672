"""Which parts of a text are copied word for word from a corpus? (`wordlstm originality`; the code is in wordlstm/commands/originality.py).

    python scripts/originality.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.originality import main

if __name__ == "__main__":
    sys.exit(run(main))
