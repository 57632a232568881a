"""The command line: a thin shell that parses, calls the library, and prints.

Each command lives in its own module with ``register(subparsers)``; its handler imports what it
needs when it runs, so ``chainrule --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import shlex
import sys

from ..errors import ChainruleError
from .arguments import Parser

# the modules that register commands (train registers train, evaluate and predict)
COMMAND_MODULES = ["train", "explain", "lm", "rl", "check_op"]

# The BLAS threads of a command that trains or generates, unless --threads says otherwise. One,
# because the course's matrices are small and a second thread on a busy core makes a run several
# times slower: benchmarks/threads.py measures it, docs/performance.md has the table.
DEFAULT_THREADS = 1


def build_parser() -> Parser:
    parser = Parser(
        prog="chainrule",
        description="Machine learning from first principles: train, evaluate and inspect models "
                    "whose gradients come from chainrule's own backpropagation.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` for a command that trains or generates; ``main`` applies it."""
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="N",
                        help="threads for NumPy's matrix products (BLAS) (default: %(default)s: "
                             "small matrices gain little from more, and on a busy machine more "
                             "threads wait for each other; see docs/performance.md)")


def add_compile_option(parser: argparse.ArgumentParser) -> None:
    """``--no-compile`` for a command that trains: its step is compiled unless it is given."""
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="take every training step eagerly (the Tensor graph built and "
                             "walked each time) instead of recording the step once and "
                             "replaying it with chainrule.compile; the weights are the same bit "
                             "for bit, only slower (use it to debug inside a step)")


def _use_threads(threads: int) -> None:
    from ..threads import set_num_threads

    if threads < 1:
        raise ChainruleError(f"--threads {threads}: give at least 1 thread")
    set_num_threads(threads)


def _quiet_unless_rank_zero() -> int:
    """Under mpiexec every rank runs the command; rank 0 alone prints its results (errors, on
    standard error, still come from whichever rank has them). Returns the number of ranks."""
    from .. import distributed

    processes = distributed.init()
    if processes > 1 and not distributed.is_main_process():
        sys.stdout = open(os.devnull, "w")
    return processes


def _fail(command: str, message: str, processes: int) -> int:
    """The error's one line on standard error, and exit status 2. Under mpiexec the line names
    the rank, and the whole job ends: an error on one rank alone (rank 0 alone refuses a run
    directory) would leave the others waiting in their next collective while this rank sat in
    MPI's finalize, until the collective's timeout (300 s)."""
    from .. import distributed

    line = f"chainrule {command}: error: {message}"
    if processes > 1:
        line += f" (rank {distributed.get_rank()} of {processes}; the error ends every rank)"
    print(line, file=sys.stderr, flush=True)
    if processes > 1:
        distributed.end_job(2)
    return 2


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    processes = 1
    try:
        processes = _quiet_unless_rank_zero()
        if getattr(args, "threads", None) is not None:
            _use_threads(args.threads)
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
    except io.UnsupportedOperation:  # an OSError from a bug (fileno() of a notebook's stream)
        raise
    except (ChainruleError, OSError) as error:  # OSError: a path, a full disk, a read-only one
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        return _fail(args.command, f"{as_flags(error)}{_notes(error)}", processes)
    except MemoryError as error:  # a size that passed the checks but not this machine's memory
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        return _fail(args.command, f"out of memory: {error}{_notes(error)}", processes)
    except KeyboardInterrupt as interrupt:
        print(f"chainrule {args.command}: interrupted{_notes(interrupt)}", file=sys.stderr)
        return 130


def _notes(error: BaseException) -> str:
    """What was added to the error on its way out (rundir: the run left as it was), each after
    a semicolon, on the error's line."""
    return "".join(f"; {note}" for note in getattr(error, "__notes__", ()))


# The Python arguments that library messages name (``missing="drop"``), and each one's flag.
FLAGS = {"resume": "--resume", "overwrite": "--overwrite", "values": "--at", "wrt": "--wrt",
         "data": "--data", "missing": "--missing", "block_size": "--block-size",
         "max_iters": "--max-iters", "learning_rate": "--lr", "min_lr": "--min-lr",
         "preset": "--preset", "delimiter": "--delimiter", "warmup_iters": "--warmup-iters",
         "csv_path": "--csv", "task": "--task"}
_ARGUMENT = re.compile(r"\b(" + "|".join(FLAGS) + r")="
                       r"""(?:\{'(\w+)': ([^}]*)\}|\[([^\]]*)\]|"([^"]*)"|'([^']*)'|([\w.+-]*))""")


def as_flag(name: str, *value) -> str:
    """A setting the library names as a Python argument (``hidden=(256, 256)``), as
    ``chainrule train``'s flag: ``--hidden 256,256``; the name alone (``--patience``) without a
    value."""
    if value and value[0] is None:  # a setting that was left out
        return "no DATASET" if name == "dataset" else f"no --{name.replace('_', '-')}"
    if name == "dataset":
        return value[0] if value else "DATASET"
    flag = "--" + name.replace("_", "-")
    if not value or value[0] is True:
        return flag
    value = value[0]
    if isinstance(value, (tuple, list)):
        return f"{flag} {','.join(map(str, value))}"
    if isinstance(value, float):  # as typed: 0.1, 1e-05, and 0 rather than 0.0
        return f"{flag} {value!r}".removesuffix(".0")
    return f"{flag} {_shell_word(value) if isinstance(value, str) else value}"


def _shell_word(text: str) -> str:
    """A value as a shell takes it: ';' quoted, a tab as the word ``tab`` (``--delimiter``)."""
    return "tab" if text in ("\t", "\\t") else shlex.quote(text)


def as_flags(error: Exception) -> str:
    """The library names Python arguments; a command-line user gives flags. An error that
    knows the settings it names (``run_config.SettingError``) spells each with ``as_flag``;
    in other messages ``resume=True`` becomes ``--resume``, ``values={'x': 3}`` ``--at x=3``,
    ``wrt=['w', 'b']`` ``--wrt w b``, ``missing="drop"`` ``--missing drop``, ``block_size=64``
    ``--block-size 64``, ``delimiter=';'`` ``--delimiter ';'`` (quoted for a shell),
    ``task='classification'`` ``--task classification``, and an
    argument named alone (``data=``) its flag alone. Arguments without a flag stay as they
    are."""
    if hasattr(error, "say"):
        return error.say(as_flag)
    def flag(match: re.Match) -> str:
        name, key, value, items, double, single, plain = match.groups()
        if key is not None:
            given = f"{key}={value}"
        elif items is not None:
            given = " ".join(item.strip().strip("'\"") for item in items.split(","))
        else:
            given = next(text for text in (double, single, plain) if text is not None)
            if given not in ("", "True"):
                given = _shell_word(given)
        return FLAGS[name] + ("" if given in ("", "True") else f" {given}")

    return _ARGUMENT.sub(flag, str(error))


if __name__ == "__main__":
    sys.exit(main())
