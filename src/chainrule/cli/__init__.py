"""The command line: a thin shell that parses, calls the library, and prints.

Each command lives in its own module with ``register(subparsers)``; its handler imports what it
needs when it runs, so ``chainrule --help`` stays fast.
"""
from __future__ import annotations

import importlib
import os
import sys

from ..errors import ChainruleError
from .arguments import Parser

# the modules that register commands (train registers train, evaluate and predict)
COMMAND_MODULES = ["train", "explain", "lm", "rl"]


def build_parser() -> Parser:
    parser = Parser(
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
        status = args.handler(args) or 0
        sys.stdout.flush()  # inside the try: a reader that has gone shows up here
        return status
    except BrokenPipeError:
        # The reader stopped reading (`chainrule explain ... | head -3`): Python's documented
        # recipe (the signal module's "Note on SIGPIPE") points standard output at devnull, so
        # that the interpreter's own flush at exit does not fail again, and exits with 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ChainruleError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule {args.command}: error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # a size that passed the checks but not this machine's memory
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule {args.command}: error: out of memory: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
