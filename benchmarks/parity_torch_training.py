"""Do chainrule's optimizers, schedulers and modules train as PyTorch's do?

The companion of ``parity_torch.py`` (which checks the ops): each check runs the same program
on both libraries, in float64 from the same initial weights, and compares.

- every optimizer setting (SGD with momentum, dampening, Nesterov, weight decay; Adam, AdamW,
  RMSprop with momentum and centering; two parameter groups): the parameters and the state
  after 12 steps, with the rate changed by hand on the way, to 1e-12 relative (max-norm);
- every scheduler over 30 epochs, alone, two stepped together, and in ``SequentialLR``, then
  resumed from ``state_dict``: the rates must be equal bit for bit;
- the module tree (names, shared modules, ``apply`` order, ``train`` overrides,
  ``load_state_dict(strict=False)``), batch norm's statistics, ``LayerNorm`` without affine
  map, ``Embedding``'s ``padding_idx`` and ``clip_grad_norm_``: equal, or to 1e-12.

    python benchmarks/parity_torch_training.py     # exit status 1 on a mismatch
"""
from __future__ import annotations

import itertools
import json
import sys

import numpy
import torch

import chainrule

torch.set_default_dtype(torch.float64)
RNG = numpy.random.default_rng(0)
WEIGHTS = [RNG.normal(size=(4, 3)), RNG.normal(size=(3,))]
X, Y = RNG.normal(size=(8, 4)), RNG.normal(size=(8, 3))
LIBRARIES = (chainrule, torch)


def tensor(lib, values, requires_grad=False):
    return lib.tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=requires_grad)


def array(value) -> numpy.ndarray:
    return numpy.asarray(value.detach().numpy() if hasattr(value, "detach") else value, float)


def relative_error(got, want) -> float:
    got, want = numpy.asarray(got, float), numpy.asarray(want, float)
    scale = numpy.max(numpy.abs(want)) if want.size else 0.0
    return float(numpy.max(numpy.abs(got - want)) / scale) if scale else float(
        numpy.max(numpy.abs(got - want), initial=0.0))


# ---------------------------------------------------------------- optimizers
def trajectory(lib, make):
    params = [lib.nn.Parameter(tensor(lib, w)) for w in WEIGHTS]
    x, y = tensor(lib, X), tensor(lib, Y)
    optimizer = make(lib.optim, params)
    for step in range(12):
        optimizer.zero_grad()
        loss = ((x @ params[0] + params[1] - y) ** 2).mean() + (params[0] ** 3).sum() * 0.01
        loss.backward()
        if step % 4 == 3:
            optimizer.param_groups[0]["lr"] *= 0.7
        optimizer.step()
    state = optimizer.state_dict()["state"]
    return [array(p) for p in params] + [array(state[key][name]) for key in sorted(state)
                                         for name in sorted(state[key])]


def optimizer_cases():
    for momentum, dampening, nesterov, decay in itertools.product(
            (0, 0.9), (0, 0.3), (False, True), (0, 0.1)):
        if not nesterov or (momentum and not dampening):
            yield (f"SGD momentum={momentum} dampening={dampening} nesterov={nesterov} "
                   f"weight_decay={decay}", lambda o, p, m=momentum, d=dampening, n=nesterov,
                   w=decay: o.SGD(p, lr=0.05, momentum=m, dampening=d, nesterov=n,
                                  weight_decay=w))
    for name, decay in itertools.product(("Adam", "AdamW"), (0, 0.1)):
        yield (f"{name} weight_decay={decay}", lambda o, p, n=name, w=decay: getattr(o, n)(
            p, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=w))
    for momentum, centered, decay in itertools.product((0, 0.9), (False, True), (0, 0.1)):
        yield (f"RMSprop momentum={momentum} centered={centered} weight_decay={decay}",
               lambda o, p, m=momentum, c=centered, w=decay: o.RMSprop(
                   p, lr=0.01, alpha=0.9, eps=1e-6, momentum=m, centered=c, weight_decay=w))
    yield ("SGD, two groups with their own settings", lambda o, p: o.SGD(
        [{"params": [p[0]]}, {"params": [p[1]], "lr": 0.2, "momentum": 0.5}], lr=0.05,
        momentum=0.9))


def optimizer_checks() -> list:
    rows = []
    for name, make in optimizer_cases():
        mine, theirs = trajectory(chainrule, make), trajectory(torch, make)
        same_shapes = [a.shape for a in mine] == [b.shape for b in theirs]
        error = max(map(relative_error, mine, theirs)) if same_shapes else float("inf")
        rows.append((name, error <= 1e-12, f"{error:.1e}"))
    return rows


# ---------------------------------------------------------------- schedulers
class Both:
    """Two schedulers stepped one after the other on one optimizer."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def step(self):
        self.first.step()
        self.second.step()


SCHEDULES = {
    "StepLR(7, 0.5)": lambda s, o: s.StepLR(o, 7, 0.5),
    "MultiStepLR([15, 3, 7, 7], 0.5)": lambda s, o: s.MultiStepLR(o, [15, 3, 7, 7], 0.5),
    "ExponentialLR(0.9)": lambda s, o: s.ExponentialLR(o, 0.9),
    "LinearLR(0.1, 1, 10)": lambda s, o: s.LinearLR(o, 0.1, 1.0, 10),
    "LinearLR(1, 0, 10)": lambda s, o: s.LinearLR(o, 1.0, 0.0, 10),
    "CosineAnnealingLR(10, 1e-3), 3 periods": lambda s, o: s.CosineAnnealingLR(o, 10, 1e-3),
    "LambdaLR, one function per group": lambda s, o: s.LambdaLR(
        o, [lambda e: 0.95 ** e, lambda e: 1 / (e + 1)]),
    "LinearLR and StepLR stepped together": lambda s, o: Both(
        s.LinearLR(o, 0.1, total_iters=5), s.StepLR(o, 10, 0.5)),
    "CosineAnnealingLR and StepLR together": lambda s, o: Both(
        s.CosineAnnealingLR(o, 7, 0.01), s.StepLR(o, 5, 0.5)),
    "SequentialLR(Linear, Step, Cosine)": lambda s, o: s.SequentialLR(o, [
        s.LinearLR(o, 0.2, total_iters=3), s.StepLR(o, 2, 0.7),
        s.CosineAnnealingLR(o, 6, 0.001)], milestones=[3, 10]),
    "SequentialLR with a milestone at 0": lambda s, o: s.SequentialLR(o, [
        s.CosineAnnealingLR(o, 6, 0.001), s.LinearLR(o, 0.2, total_iters=3)], milestones=[0]),
}


def optimizer_for(lib):
    params = [lib.nn.Parameter(lib.zeros(2)) for _ in range(2)]
    return lib.optim.SGD([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]],
                                                              "lr": 0.03}], lr=1.0)


def rates(lib, make, resume_at=None, halve_at=None) -> list:
    optimizer = optimizer_for(lib)
    scheduler = make(lib.optim.lr_scheduler, optimizer)
    seen = []
    for epoch in range(30):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
        if epoch == halve_at:
            for group in optimizer.param_groups:
                group["lr"] *= 0.5
        if epoch == resume_at:  # rebuild both, then load their state (PyTorch's order)
            saved = json.loads(json.dumps(scheduler.state_dict())) if lib is chainrule \
                else scheduler.state_dict()
            optimizer_state = optimizer.state_dict()
            optimizer = optimizer_for(lib)
            scheduler = make(lib.optim.lr_scheduler, optimizer)
            optimizer.load_state_dict(optimizer_state)
            scheduler.load_state_dict(saved)
    return seen


def scheduler_checks() -> list:
    rows = []
    for name, make in SCHEDULES.items():
        for how, options in (("", {}), (", resumed at 8", {"resume_at": 8}),
                             (", rate halved at 5", {"halve_at": 5})):
            if how and isinstance(make(torch.optim.lr_scheduler, optimizer_for(torch)), Both):
                continue
            mine, theirs = rates(chainrule, make, **options), rates(torch, make, **options)
            error = relative_error(mine, theirs)
            rows.append((name + how, mine == theirs, "equal" if mine == theirs else f"{error:.1e}"))
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.91, 0.92, 0.93, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1, 1]
    for settings in ({"patience": 2}, {"mode": "max", "factor": 0.5, "patience": 1,
                                       "threshold_mode": "abs", "cooldown": 2,
                                       "min_lr": [0.01, 0.001]}):
        seen = {}
        for lib in LIBRARIES:
            optimizer = optimizer_for(lib)
            scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **settings)
            seen[lib] = [(scheduler.step(m), scheduler.get_last_lr())[1] for m in metrics]
        rows.append((f"ReduceLROnPlateau({settings})", seen[chainrule] == seen[torch], "equal"))
    return rows


# ---------------------------------------------------------------- modules
def module_tree(lib):
    nn = lib.nn

    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(2)

        def train(self, mode=True):
            super().train(mode)
            self.norm.eval()
            return self

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), Frozen()))
            self.b = nn.Linear(2, 1)
            self.c = self.a  # a shared module
            self.d = nn.ModuleList([self.b, nn.Sigmoid()])
            self.b2 = nn.Linear(2, 1)
            self.b2.weight = self.b.weight  # a tied weight

    model = Model()
    order = []
    model.apply(lambda module: order.append(type(module).__name__))
    state = dict(model.state_dict())
    state.pop("b.bias")
    state["extra"] = state["b.weight"]
    loaded = model.load_state_dict(state, strict=False)
    return {"named_parameters": [n for n, _ in model.named_parameters()],
            "state_dict keys": list(model.state_dict()),
            "named_modules": [n for n, _ in model.named_modules()],
            "named_modules(remove_duplicate=False)":
                [n for n, _ in model.named_modules(remove_duplicate=False)],
            "named_children": [n for n, _ in model.named_children()],
            "apply order": order,
            "train() with a child's override": [m.training for m in model.train().modules()],
            "load_state_dict(strict=False)": (loaded.missing_keys, loaded.unexpected_keys)}


def layer_numbers(lib) -> list:
    rng = numpy.random.default_rng(1)
    out = []
    for momentum in (0.1, None):
        norm = lib.nn.BatchNorm2d(3, momentum=momentum).double()
        for i in range(3):
            x = tensor(lib, rng.normal(size=(4, 3, 2, 2)) * (i + 1) + i, True)
            (norm(x) * tensor(lib, rng.normal(size=(4, 3, 2, 2)))).sum().backward()
            out += [array(x.grad)]
        out += [array(norm.running_mean), array(norm.running_var), array(norm.weight.grad)]
        norm.eval()
        out.append(array(norm(tensor(lib, rng.normal(size=(4, 3, 2, 2))))))
    plain = lib.nn.LayerNorm(4, 1e-3, False)
    x = tensor(lib, rng.normal(size=(3, 4)), True)
    (plain(x) * tensor(lib, rng.normal(size=(3, 4)))).sum().backward()
    out += [array(plain(x)), array(x.grad), numpy.array(len(list(plain.parameters())), float)]
    table = lib.nn.Embedding(6, 4, padding_idx=-1).double()
    out.append(array(table.weight)[5])
    with lib.no_grad():
        table.weight.copy_(tensor(lib, rng.normal(size=(6, 4))))
    rows = table(lib.tensor(numpy.array([[5, 1, 5], [2, 2, 0]])))
    (rows * tensor(lib, rng.normal(size=(2, 3, 4)))).sum().backward()
    out += [array(rows), array(table.weight.grad)]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        params = [lib.nn.Parameter(tensor(lib, numpy.zeros(s))) for s in ((2, 3), (2,))]
        params[0].grad = tensor(lib, [[1.0, -2, 3], [0.5, 0, -1]])
        params[1].grad = tensor(lib, [0.25, -7.0])
        total = lib.nn.utils.clip_grad_norm_(params, 0.5, norm_type=norm_type)
        out += [array(total)] + [array(p.grad) for p in params]
    return out


def module_checks() -> list:
    mine, theirs = module_tree(chainrule), module_tree(torch)
    rows = [(what, mine[what] == theirs[what], str(mine[what])[:60]) for what in mine]
    numbers = list(zip(layer_numbers(chainrule), layer_numbers(torch)))
    error = max(relative_error(a, b) if a.shape == b.shape else float("inf") for a, b in numbers)
    rows.append(("BatchNorm2d (momentum 0.1, None), LayerNorm(4, eps, False), "
                 "Embedding(padding_idx), clip_grad_norm_", error <= 1e-12, f"{error:.1e}"))
    return rows


def main() -> int:
    failures = 0
    for title, rows in (("optimizers: parameters and state after 12 steps", optimizer_checks()),
                        ("schedulers: 30 epochs of rates", scheduler_checks()),
                        ("modules", module_checks())):
        print(f"\n{title}\n" + "-" * 100)
        for what, ok, detail in rows:
            failures += not ok
            print(f"{what:<78} {'OK' if ok else 'FAIL'}  {detail}")
    print(f"\n{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
