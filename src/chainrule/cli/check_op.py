"""``chainrule check-op FILE``: grade an op written the way chainrule's primitives are.

FILE is a Python file that defines ``forward(*arrays)``, ``vjp(g, out, *inputs)`` and
``samples`` (a list of tuples of input shapes), and optionally ``refuses`` and ``name``; see
chainrule.testing. Exit status 0 when every check passes, 1 when one fails (as a test would).
"""
from __future__ import annotations

import argparse
import math
import runpy
import sys
from pathlib import Path

from ..errors import ChainruleError

EXAMPLE = """a FILE looks like this:
  def forward(x):              # arrays in, array out
      return x * x
  def vjp(g, out, x):          # Tensors: the error signal, the output, the inputs
      return g * 2 * x         # one gradient per input
  samples = [((5,),), ((2, 3),)]
"""

# Input elements of one sample above which the user is told the check will be long: finite
# differences evaluate the op twice per element (about a millisecond each for a small op), and
# the second order check its VJP too, so a sample of (1000, 1000) takes hours.
LARGE_SAMPLE = 10_000


def register(commands) -> None:
    parser = commands.add_parser(
        "check-op", help="check a hand-written op's VJP against finite differences",
        description=__doc__.split("\n\n")[0].replace("``", ""), epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="a Python file defining forward, vjp and samples")
    parser.add_argument("--no-second-order", action="store_true",
                        help="skip the second-order check")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..testing import check_vjp

    namespace = runpy.run_path(args.file)  # the user's own file, run as pytest runs a test file
    for required in ("forward", "vjp", "samples"):
        if required not in namespace:
            raise ChainruleError(f"{args.file} defines no {required!r}; it needs forward(*arrays), "
                                 "vjp(g, out, *inputs) and samples (a list of tuples of shapes)")
    if not isinstance(namespace["samples"], (list, tuple)):
        raise ChainruleError(f"{args.file}: samples must be a list of tuples of shapes, e.g. "
                             f"[((5,),), ((2, 3),)], not {namespace['samples']!r}")
    _say_which_samples_are_large(namespace["samples"])
    report = check_vjp(namespace["forward"], namespace["vjp"], namespace["samples"],
                       name=namespace.get("name") or Path(args.file).stem, refuses=namespace.get("refuses", ()),
                       second_order=not args.no_second_order)
    print(report)
    return 0 if report else 1


def _say_which_samples_are_large(samples) -> None:
    """One line on standard error per sample too large to check quickly, before the checks."""
    import numpy

    for index, sample in enumerate(samples):
        items = sample if isinstance(sample, (tuple, list)) else (sample,)
        try:  # a shape, or an array given as is (check_vjp reports an item that is neither)
            elements = sum(math.prod(item) if isinstance(item, tuple) else numpy.size(item)
                           for item in items)
        except TypeError:
            continue
        if elements > LARGE_SAMPLE:
            print(f"chainrule check-op: sample {index} has {elements:,} input elements; finite "
                  "differences evaluate the op twice for each (and its VJP, for the second "
                  "order), which may take very long: small shapes such as (5,) or (2, 3) check "
                  "the same formulas", file=sys.stderr, flush=True)
