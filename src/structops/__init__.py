"""structops: BPF struct_ops in Python.

An embedded kernel that re-implements the struct_ops machinery and runs real eBPF
bytecode, and a Linux backend that drives the real ``bpf()`` syscall, behind one API.
"""

from __future__ import annotations

from structops.errors import BpfError, BTFError, ELFError, VerifierError, VMFault

__version__ = "0.1.0"

__all__ = ["BTFError", "BpfError", "ELFError", "VMFault", "VerifierError", "__version__"]
