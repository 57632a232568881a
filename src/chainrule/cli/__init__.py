"""The command line: a thin shell that parses, calls the library, and prints.

Each command lives in its own module with ``register(subparsers)``; its handler imports what it
needs when it runs, so ``chainrule --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from ..errors import ChainruleError

# the modules that register commands (train registers train, evaluate and predict)
COMMAND_MODULES = ["train", "explain", "lm", "rl"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Machine learning from first principles: train, evaluate and inspect models "
                    "whose gradients come from chainrule's own backpropagation.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ChainruleError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule {args.command}: error: {as_flags(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130


def as_flags(error: Exception) -> str:
    """The library names Python arguments (``resume=True``); a command-line user gives flags."""
    return re.sub(r"\b([a-z_]+)=True\b", lambda match: "--" + match[1].replace("_", "-"),
                  str(error))


if __name__ == "__main__":
    sys.exit(main())
