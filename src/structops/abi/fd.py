"""``Fd``: an owned file descriptor of a bpf object, closed exactly once.

The :class:`~structops.abi.protocol.Kernel` protocol traffics in plain ints; whoever owns
an fd wraps it in :class:`Fd` so that it closes on ``with`` exit, on explicit
:meth:`Fd.close`, or when garbage collected (``weakref.finalize``), whichever is first.
The same class serves both backends: ``Fd(fd)`` closes with :func:`os.close` (an fd of
this process, Linux backend), ``Fd.of(kernel, fd)`` through ``kernel.close`` (any
backend; what the API's ``Map``, ``Program`` and ``Link`` hold).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structops.abi.protocol import Kernel

__all__ = ["Fd"]


def _close_quietly(close: Callable[[int], None], fd: int) -> None:
    with contextlib.suppress(OSError):
        close(fd)


class Fd:
    """An fd closed exactly once through ``close`` (default :func:`os.close`).

    ``int(fd)`` / ``fd.fileno()`` / ``fd.fd`` raise ``ValueError`` once closed.  With
    ``quiet=True`` an explicit :meth:`close` ignores the error of the close call (the
    object may already be gone with its kernel); a close by the garbage collector is
    always quiet.
    """

    __slots__ = ("__weakref__", "_close", "_fd", "_finalizer", "_quiet")

    def __init__(self, fd: int, close: Callable[[int], None] = os.close, *, quiet: bool = False) -> None:
        if fd < 0:
            raise ValueError(f"not an fd: {fd}")
        self._fd = int(fd)
        self._close = close
        self._quiet = quiet
        self._finalizer = weakref.finalize(self, _close_quietly, close, self._fd)

    @classmethod
    def of(cls, kernel: Kernel, fd: int) -> Fd:
        """An fd of ``kernel``'s process, closed through ``kernel.close`` (quietly)."""
        return cls(fd, kernel.close, quiet=True)

    @property
    def closed(self) -> bool:
        """True once closed or detached."""
        return not self._finalizer.alive

    def fileno(self) -> int:
        """The raw fd number; ValueError once closed."""
        if self.closed:
            raise ValueError("I/O operation on closed bpf fd")
        return self._fd

    __int__ = fileno
    __index__ = fileno

    @property
    def fd(self) -> int:
        """The raw fd number (same as :meth:`fileno`)."""
        return self.fileno()

    def close(self) -> None:
        """Close the fd now; later calls do nothing.  Errors propagate unless ``quiet``."""
        if self._finalizer.detach() is None:
            return
        if self._quiet:
            _close_quietly(self._close, self._fd)
        else:
            self._close(self._fd)

    def detach(self) -> int:
        """Give up ownership without closing; return the raw fd."""
        fd = self.fileno()
        self._finalizer.detach()
        return fd

    def __enter__(self) -> Fd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Fd):
            return self is other
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Fd({self._fd}, {state})"
