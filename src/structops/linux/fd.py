"""``Fd``: an owned file descriptor of a bpf object that is closed exactly once.

The :class:`~structops.kernel.protocol.Kernel` protocol traffics in plain ints; the API
layer wraps the fds it owns in :class:`Fd` so they close on ``with`` exit, on explicit
:meth:`Fd.close`, or when garbage collected (``weakref.finalize``), whichever is first.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable
from types import TracebackType

__all__ = ["Fd"]


def _close_quietly(close: Callable[[int], None], fd: int) -> None:
    with contextlib.suppress(OSError):
        close(fd)


class Fd:
    """An fd closed exactly once through ``close`` (default :func:`os.close`).

    Pass a kernel's ``close`` (``Fd(fd, kernel.close)``) to own fds of the embedded
    kernel too.  ``int(fd)`` / ``fd.fileno()`` raise ``ValueError`` once closed.
    """

    __slots__ = ("__weakref__", "_close", "_fd", "_finalizer")

    def __init__(self, fd: int, close: Callable[[int], None] = os.close) -> None:
        if fd < 0:
            raise ValueError(f"not an fd: {fd}")
        self._fd = int(fd)
        self._close = close
        self._finalizer = weakref.finalize(self, _close_quietly, close, self._fd)

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

    def close(self) -> None:
        """Close the fd now; later calls do nothing.  close(2) errors propagate."""
        if self._finalizer.detach() is not None:
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
