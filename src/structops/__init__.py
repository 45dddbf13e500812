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

from structops.abi.protocol import Kernel
from structops.api import Collection, Link, Map, Program, TestRunResult
from structops.errors import (
    AlreadyExists,
    BadFd,
    BpfError,
    BTFError,
    Busy,
    ELFError,
    FormatError,
    InProgress,
    InvalidArgument,
    LinkDetached,
    NoMemory,
    NotFound,
    NotSupported,
    PermissionDenied,
    TooBig,
    VerifierError,
    VMFault,
)
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


__all__ = [
    "AlreadyExists",
    "BTFError",
    "BadFd",
    "BpfError",
    "Busy",
    "Collection",
    "ELFError",
    "EmulatedKernel",
    "FormatError",
    "InProgress",
    "InvalidArgument",
    "Kernel",
    "Link",
    "LinkDetached",
    "LinuxKernel",
    "Map",
    "NoMemory",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "Program",
    "TestRunResult",
    "TooBig",
    "VMFault",
    "VerifierError",
    "__version__",
]
