"""The ``Kernel`` protocol: the one choke point every bpf() call goes through.

Both backends implement it: :class:`structops.kernel.emulated.EmulatedKernel` (the
default, in-process) and :class:`structops.linux.LinuxKernel` (the real syscall).
Everything above it (loader, API, CLI) is written once against this protocol.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from structops.abi.attrs import Attr
from structops.abi.consts import Cmd

__all__ = ["Kernel", "UserBuffer"]


@runtime_checkable
class UserBuffer(Protocol):
    """A block of the calling process's memory with a user-space address.

    Some attrs carry raw user addresses inside data (``bpf_dummy_ops`` test_run passes
    ``struct bpf_dummy_ops_state *`` in ``ctx_in``, DM6); this is how callers get one on
    either backend.
    """

    @property
    def addr(self) -> int:
        """User-space address of the first byte."""
        ...

    @property
    def size(self) -> int:
        """Size in bytes."""
        ...

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Copy bytes out."""
        ...

    def write(self, data: bytes, offset: int = 0) -> None:
        """Copy bytes in."""
        ...


@runtime_checkable
class Kernel(Protocol):
    """A bpf() endpoint for one process (fd table).

    ``bpf`` returns the syscall's non-negative result (an fd or 0) and raises a
    :class:`structops.errors.BpfError` with the kernel's errno otherwise; output fields
    of ``attr`` (``retval``, ``next_id``, ``info_len``, output buffers) are filled in place.
    """

    #: ``"embedded"`` or ``"linux"``.
    name: str

    def bpf(self, cmd: Cmd, attr: Attr) -> int:
        """Run one bpf() command."""
        ...

    def close(self, fd: int) -> None:
        """Close an fd of this process (like close(2)); EBADF if it is not open."""
        ...

    def vmlinux_btf(self) -> bytes:
        """Raw bytes of the kernel's own BTF (``/sys/kernel/btf/vmlinux``)."""
        ...

    def module_btfs(self) -> dict[str, bytes]:
        """Raw split BTF of each loaded module, by module name."""
        ...

    def alloc_user(self, size: int) -> UserBuffer:
        """Allocate zeroed user memory of this process."""
        ...
