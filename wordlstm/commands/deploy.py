"""Create or update a Hugging Face Space that runs this app, from this repository.

    wordlstm deploy alice/wordlstm [--private] [--hardware zero-a10g] [--token T]

Uploads the app, the package, the default model and the sample text; tests,
CI files and caches stay behind. The README's front matter configures the Space.
"""
import os

from wordlstm.commands.cli import ArgumentParser
from wordlstm.share.hub import deploy_space

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a clone's root


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("space_id", help="OWNER/NAME of the Space (created if missing)")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--hardware", default=None, help="e.g. cpu-basic, t4-small, zero-a10g (default: the Hub's)")
    p.add_argument("--token", default=None, help="Hugging Face token with write access (default: HF_TOKEN or saved login)")
    p.add_argument("--folder", default=ROOT, help="what to upload (default: this repository)")
    args = p.parse_args()
    print(deploy_space(args.space_id, args.folder, private=args.private, token=args.token, hardware=args.hardware))

