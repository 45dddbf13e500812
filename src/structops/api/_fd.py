"""An fd owned by an API object: closed once, on ``close()`` or when garbage-collected."""

from __future__ import annotations

import contextlib
import weakref

from structops.abi.protocol import Kernel

__all__ = ["OwnedFd"]


def _close(kernel: Kernel, fd: int) -> None:
    with contextlib.suppress(OSError):
        kernel.close(fd)


class OwnedFd:
    """An fd of ``kernel`` with a finalizer (cilium/ebpf's sys.FD, trio-style explicit close)."""

    def __init__(self, kernel: Kernel, fd: int) -> None:
        self.kernel = kernel
        self._fd = fd
        self._finalizer = weakref.finalize(self, _close, kernel, fd)

    @property
    def fd(self) -> int:
        """The raw fd; ValueError once closed."""
        if not self._finalizer.alive:
            raise ValueError("fd is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        """True after close()."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Close now (idempotent)."""
        self._finalizer()
