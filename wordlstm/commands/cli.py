"""Shared plumbing for the command-line scripts: one-line errors, exit code 2."""
import argparse
import os
import sys

from ..errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage + error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def invocation() -> str:
    """How this command was typed: `wordlstm train`, or `python scripts/train.py`."""
    program = sys.argv[0]
    return f"python {os.path.relpath(program)}" if program.endswith(".py") else program


def run(main) -> int:
    """Call main(); a UserError becomes one line on stderr and exit code 2."""
    try:
        return main() or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
