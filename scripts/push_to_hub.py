"""Push a checkpoint folder to the Hugging Face Hub, with its model card. (`wordlstm push`; the code is in wordlstm/commands/push.py).

    python scripts/push_to_hub.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.push import main

if __name__ == "__main__":
    sys.exit(run(main))
