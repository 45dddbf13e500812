"""structops: BPF struct_ops in Python.

An embedded kernel that re-implements the struct_ops machinery and runs real eBPF
bytecode, and a Linux backend that drives the real ``bpf()`` syscall, behind one API::

    from structops import Collection, EmulatedKernel, LinuxKernel

    with Collection.open("reno.bpf.o").load(EmulatedKernel()) as obj:
        with obj.maps["so_reno"].attach_struct_ops() as link:
            ...

The public surface is this module's ``__all__`` (guarded by a test); everything else is
importable from its subpackage (``structops.btf``, ``structops.loader``, ``structops.vm``,
``structops.kernel``, ``structops.linux``, ``structops.abi``).  ``EmulatedKernel`` is loaded
on first use, so ``import structops`` alone does not import the embedded kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops import errors as _errors
from structops.abi.protocol import Kernel
from structops.api import Collection, Link, Map, Program, TestRunResult
from structops.errors import *  # noqa: F403  (the exception classes, errors.__all__)
from structops.linux import LinuxKernel

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Lazy exports: the embedded kernel is imported only when asked for."""
    if name == "EmulatedKernel":
        from structops.kernel.emulated import EmulatedKernel

        return EmulatedKernel
    raise AttributeError(f"module 'structops' has no attribute {name!r}")


_INTERNAL_ERRORS = ("Fault", "bpf_error")  # importable from structops.errors only
__all__ = [
    "Collection",
    "EmulatedKernel",
    "Kernel",
    "Link",
    "LinuxKernel",
    "Map",
    "Program",
    "TestRunResult",
    "__version__",
    *(name for name in _errors.__all__ if name not in _INTERNAL_ERRORS),
]
