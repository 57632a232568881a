"""Modules that hold other modules: ``Sequential``, ``ModuleList`` and ``ModuleDict``.

Their children are named by position (``"0"``, ``"1"``...) or by key, so a state_dict reads
``"layers.0.weight"`` exactly as in PyTorch.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from .module import Module, name_parameters


def _check_module(value, container: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{container}: expected a Module, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of modules whose parameters are found (a plain list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        self._items: list[Module] = []
        if modules is not None:
            self.extend(modules)

    def _child_slots(self) -> Iterator[tuple[str, Module]]:
        yield from super()._child_slots()
        for index, module in enumerate(self._items):
            yield str(index), module

    def append(self, module: Module) -> "ModuleList":
        name_parameters(self, str(len(self._items)), _check_module(module, type(self).__name__))
        self._items.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self._items[index])
        return self._items[index]

    def __setitem__(self, index: int, module: Module) -> None:
        name_parameters(self, str(index % len(self._items) if self._items else index),
                        _check_module(module, type(self).__name__))
        self._items[index] = module

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)


class Sequential(ModuleList):
    """Modules applied one after another: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``."""

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._items[index])
        return self._items[index]

    def forward(self, x):
        for module in self._items:
            x = module(x)
        return x


class ModuleDict(Module):
    """A dict of modules by name, in insertion order, whose parameters are found."""

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        self._items: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _child_slots(self) -> Iterator[tuple[str, Module]]:
        yield from super()._child_slots()
        yield from self._items.items()

    def update(self, modules) -> None:
        pairs = modules.items() if isinstance(modules, dict) else modules
        for key, module in pairs:
            self[key] = module

    def __getitem__(self, key: str) -> Module:
        return self._items[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        name_parameters(self, key, _check_module(module, "ModuleDict"))
        self._items[key] = module

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()
