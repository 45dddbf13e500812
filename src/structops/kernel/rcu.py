"""An emulated RCU: running programs are readers, frees wait for a grace period.

The kernel frees a struct_ops map only after ``synchronize_rcu_mult(call_rcu,
call_rcu_tasks)`` (F3 step 4): any program (or trampoline) that may still see the map
must have finished.  Here every call into a BPF program runs inside
:meth:`Rcu.read_lock`; :meth:`Rcu.call_rcu` queues a callback that runs once every
reader that started before it has left; :meth:`Rcu.synchronize` blocks until then.

Epochs: each reader records the epoch current when it started; ``call_rcu`` and
``synchronize`` advance the epoch; a callback of epoch *e* is ready when no reader of an
epoch < *e* remains.  Readers nest (per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Rcu", "RcuError"]


class RcuError(RuntimeError):
    """Misuse of RCU (synchronize inside a read-side section: a deadlock in the kernel)."""


class _ReadGuard:
    """``with rcu.read_lock():`` -- lock on entry, unlock on exit (exceptions included)."""

    __slots__ = ("_rcu",)

    def __init__(self, rcu: Rcu) -> None:
        self._rcu = rcu

    def __enter__(self) -> None:
        self._rcu.lock()

    def __exit__(self, *exc: object) -> None:
        self._rcu.unlock()


class Rcu:
    """Grace-period tracking for one emulated kernel."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._epoch = 0
        self._readers: dict[int, int] = {}
        self._callbacks: list[tuple[int, Callable[[], None]]] = []
        self._tls = threading.local()
        self.grace_periods = 0
        self._guard = _ReadGuard(self)

    def read_lock(self) -> _ReadGuard:
        """``rcu_read_lock()`` ... ``rcu_read_unlock()`` for the current thread (a ``with``
        guard; one object per Rcu, so entering a section allocates nothing)."""
        return self._guard

    def lock(self) -> None:
        """``rcu_read_lock()``: enter (or nest) a read-side section on this thread."""
        tls = self._tls
        depth = getattr(tls, "depth", 0)
        if depth:
            tls.depth = depth + 1
            return
        with self._cond:
            epoch = self._epoch
            self._readers[epoch] = self._readers.get(epoch, 0) + 1
        tls.epoch = epoch
        tls.depth = 1

    def unlock(self) -> None:
        """``rcu_read_unlock()``: leave the innermost section; callbacks whose grace period
        ended run when the outermost one is left."""
        tls = self._tls
        depth = tls.depth
        if depth > 1:
            tls.depth = depth - 1
            return
        tls.depth = 0
        epoch = tls.epoch
        with self._cond:
            left = self._readers[epoch] - 1
            if left:
                self._readers[epoch] = left
            else:
                del self._readers[epoch]
            ready = self._take_ready() if self._callbacks else []
            self._cond.notify_all()
        for fn in ready:
            fn()

    def in_reader(self) -> bool:
        """True inside a read-side section on this thread."""
        return bool(getattr(self._tls, "depth", 0))

    def active_readers(self) -> int:
        """Number of read-side sections currently open (all threads)."""
        with self._cond:
            return sum(self._readers.values())

    def _take_ready(self) -> list[Callable[[], None]]:
        oldest = min(self._readers) if self._readers else None
        ready = [fn for epoch, fn in self._callbacks if oldest is None or epoch <= oldest]
        if ready:
            self._callbacks = [(e, fn) for e, fn in self._callbacks if not (oldest is None or e <= oldest)]
            self.grace_periods += 1
        return ready

    def call_rcu(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after every reader that may see the old state has finished."""
        with self._cond:
            self._epoch += 1
            self._callbacks.append((self._epoch, fn))
            ready = self._take_ready()
        for cb in ready:
            cb()

    def synchronize(self, timeout: float | None = None) -> None:
        """``synchronize_rcu()``: block until pre-existing readers have left."""
        if self.in_reader():
            raise RcuError("synchronize_rcu() called inside an RCU read-side critical section")
        with self._cond:
            self._epoch += 1
            target = self._epoch
            ok = self._cond.wait_for(lambda: not self._readers or min(self._readers) >= target, timeout=timeout)
            if not ok:
                raise RcuError("grace period did not end (a reader is stuck)")
            self.grace_periods += 1
            ready = self._take_ready()
        for cb in ready:
            cb()

    def pending_callbacks(self) -> int:
        """Callbacks still waiting for a grace period."""
        with self._cond:
            return len(self._callbacks)
