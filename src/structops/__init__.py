"""structops: BPF struct_ops in Python.

An embedded kernel that re-implements the struct_ops machinery and runs real eBPF
bytecode, and a Linux backend that drives the real ``bpf()`` syscall, behind one API::

    from structops import Collection, EmulatedKernel, LinuxKernel

    with Collection.open("reno.bpf.o").load(EmulatedKernel()) as obj:
        with obj.maps["so_reno"].attach_struct_ops() as link:
            ...

The public surface is this module's ``__all__`` (guarded by a test); everything else is
importable from its subpackage (``structops.btf``, ``structops.loader``, ``structops.vm``,
``structops.kernel``, ``structops.linux``).
"""

from __future__ import annotations

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
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.linux import LinuxKernel

__version__ = "0.1.0"

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
