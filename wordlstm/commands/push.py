"""Push a checkpoint folder to the Hugging Face Hub, with its model card.

    wordlstm push runs/anna alice/anna-lstm [--private] [--token T]

The token comes from --token, else HF_TOKEN, else the saved `hf auth login`.
It is used for this upload only: never written anywhere.
"""

from wordlstm.commands.cli import ArgumentParser
from wordlstm.share.checkpoint import load_checkpoint
from wordlstm.share.hub import push


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint folder written by wordlstm train")
    p.add_argument("repo_id", help="OWNER/NAME of the model repo (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--token", default=None, help="Hugging Face token with write access (default: HF_TOKEN or saved login)")
    p.add_argument("--include-corpus", metavar="TEXT", default=None,
                   help="also upload this text as corpus.txt (off by default: only its statistics are shared)")
    args = p.parse_args()

    ckpt = load_checkpoint(args.checkpoint)
    url = push(ckpt, args.repo_id, private=args.private, token=args.token, corpus_path=args.include_corpus)
    print(url)

