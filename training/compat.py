"""Make quaterion 0.1.35 importable on current torch.

quaterion (last released in 2023) imports the private type variable ``T_co`` from
``torch.utils.data.dataloader`` and ``torch.utils.data.dataset``; torch 2.x no longer
defines it there, so ``import quaterion`` fails with ImportError. The variable is only
used for generic type annotations, so providing an equivalent covariant TypeVar on
those two modules is enough. Import quaterion through :func:`import_quaterion` (or
import this module first) so the patch is applied exactly once, in one place.
"""

from __future__ import annotations

import importlib
import types
import warnings
from typing import TypeVar

import torch.utils.data.dataloader as _dataloader
import torch.utils.data.dataset as _dataset

_PATCHED_MODULES = (_dataloader, _dataset)


def ensure_torch_t_co() -> None:
    """Define ``T_co`` on the torch data modules that quaterion imports it from."""
    for module in _PATCHED_MODULES:
        if not hasattr(module, "T_co"):
            module.T_co = TypeVar("T_co", covariant=True)  # type: ignore[attr-defined]


def import_quaterion() -> types.ModuleType:
    """Import and return the ``quaterion`` package with the torch patch applied."""
    ensure_torch_t_co()
    # pytorch-lightning 1.9 (quaterion's pin) imports pkg_resources at import time; the
    # deprecation warning it triggers says nothing actionable to our users.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    return importlib.import_module("quaterion")


ensure_torch_t_co()
