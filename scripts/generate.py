"""Generate text from a checkpoint folder or a Hugging Face Hub model repo. (`wordlstm generate`; the code is in wordlstm/commands/generate.py).

    python scripts/generate.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.generate import main

if __name__ == "__main__":
    sys.exit(run(main))
