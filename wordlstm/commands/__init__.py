"""The `wordlstm` command: one subcommand per stage, each the main() of a module here.

    wordlstm train CORPUS --out DIR        wordlstm generate DIR --prompt TEXT
    wordlstm suggest DIR --prompt TEXT     wordlstm score DIR FILE
    wordlstm originality CORPUS FILE
    wordlstm push DIR REPO_ID              wordlstm deploy SPACE_ID
    wordlstm bench [--corpus PATH]         wordlstm --version

scripts/*.py run the same main()s; `wordlstm SUBCOMMAND --help` lists each one's flags.
"""
import importlib
import sys

from .cli import run

COMMANDS = {  # subcommand: what it does (its module is wordlstm.commands.<subcommand>)
    "train": "train a model on a text file and write a checkpoint folder",
    "generate": "generate text from a checkpoint folder or a Hub repo",
    "suggest": "the most likely next words after a text (co-writing)",
    "score": "a text's perplexity and its most surprising words",
    "originality": "the spans of a text copied word for word from a corpus",
    "push": "push a checkpoint folder to the Hugging Face Hub",
    "deploy": "deploy the app as a Hugging Face Space",
    "bench": "benchmark against the book's pipeline",
}


def usage() -> str:
    rows = "\n".join(f"  {name:<12} {what}" for name, what in COMMANDS.items())
    return f"usage: wordlstm SUBCOMMAND [--help] ...\n\nsubcommands:\n{rows}\n  --version    print the version\n"


def main(argv=None) -> int:
    from .. import __version__

    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        print("wordlstm: error: give a subcommand, e.g. wordlstm train CORPUS --out DIR (see wordlstm --help)",
              file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0
    if argv[0] == "--version":
        print(f"wordlstm {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"wordlstm: error: unknown subcommand {name!r}; choose one of {', '.join(COMMANDS)} "
              f"(see wordlstm --help)", file=sys.stderr)
        return 2
    sys.argv = [f"wordlstm {name}", *argv[1:]]  # argparse names the program after sys.argv[0]
    return run(importlib.import_module(f"{__name__}.{name}").main)
