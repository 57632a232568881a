"""Layers above the engine reach it through its public API (as_tensor, detach, grad_fn,
autograd.topological_order), never through its private names."""
import pathlib
import re

import chainrule

SOURCE = pathlib.Path(chainrule.__file__).parent
ENGINE = {"autograd.py", "tensor.py", "versions.py", "backend.py"}
PRIVATE = re.compile(r"\._wrap\(|\._node\b|\b_fit_to\b|\b_root_signals\b|\b_to_array\b")


def test_no_module_above_the_engine_uses_the_engines_private_names():
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative.parts[0] == "ops" or str(relative) in ENGINE:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PRIVATE.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
