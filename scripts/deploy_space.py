"""Create or update a Hugging Face Space that runs this app, from this repository. (`wordlstm deploy`; the code is in wordlstm/commands/deploy.py).

    python scripts/deploy_space.py --help
"""
import sys

from wordlstm.commands.cli import run
from wordlstm.commands.deploy import main

if __name__ == "__main__":
    sys.exit(run(main))
