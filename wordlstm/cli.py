"""Shared plumbing for the command-line scripts: one-line errors, exit code 2."""
import argparse
import sys

from .errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage + error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
