"""An emulated RCU: running programs are readers, frees wait for a grace period.

The kernel frees a struct_ops map only after ``synchronize_rcu_mult(call_rcu,
call_rcu_tasks)`` (F3 step 4): any program (or trampoline) that may still see the map
must have finished.  Here every call into a BPF program runs inside
:meth:`Rcu.read_lock`; :meth:`Rcu.call_rcu` queues a callback that runs once every
reader that started before it has left; :meth:`Rcu.synchronize` blocks until then.

Epochs: each reader records the epoch current when it started; ``call_rcu`` and
``synchronize`` advance the epoch; a callback of epoch *e* is ready when no reader of an
epoch < *e* remains.  Readers nest (per thread).

Each thread keeps its own reader state (section depth, epoch), so entering and leaving
a section takes no lock; the updaters (``call_rcu``, ``synchronize``) scan the states of
all threads, and a reader leaving its outermost section takes the lock only when
callbacks are queued or a ``synchronize`` is waiting.  A reader that starts while an
updater scans may be missed by the scan: it cannot reach what the update unpublished
before, which is all RCU promises.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Rcu", "RcuError"]

_A = TypeVar("_A")
_R = TypeVar("_R")


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


class _Reader:
    """One thread's read-side state: nesting depth (0: outside) and the epoch it entered in."""

    __slots__ = ("__weakref__", "depth", "epoch")

    def __init__(self) -> None:
        self.depth = 0
        self.epoch = 0


class Rcu:
    """Grace-period tracking for one emulated kernel."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._waiting = 0  # synchronize() callers blocked on the condition
        self._epoch = 0
        self._states: weakref.WeakSet[_Reader] = weakref.WeakSet()  # one per thread (dies with it)
        self._callbacks: list[tuple[int, Callable[[], None]]] = []
        self._tls = threading.local()
        self.grace_periods = 0
        self._guard = _ReadGuard(self)

    def read_lock(self) -> _ReadGuard:
        """``rcu_read_lock()`` ... ``rcu_read_unlock()`` for the current thread (a ``with``
        guard; one object per Rcu, so entering a section allocates nothing)."""
        return self._guard

    def _new_state(self) -> _Reader:
        state = _Reader()
        with self._mutex:
            self._states.add(state)
        self._tls.state = state
        return state

    def lock(self) -> None:
        """``rcu_read_lock()``: enter (or nest) a read-side section on this thread."""
        state = getattr(self._tls, "state", None) or self._new_state()
        if state.depth:
            state.depth += 1
        else:
            state.epoch = self._epoch
            state.depth = 1

    def unlock(self) -> None:
        """``rcu_read_unlock()``: leave the innermost section; callbacks whose grace period
        ended run when the outermost one is left, and a waiting ``synchronize`` is woken."""
        state = self._tls.state
        depth = state.depth
        if depth > 1:
            state.depth = depth - 1
            return
        state.depth = 0
        if self._callbacks or self._waiting:
            self._left()

    def call(self, fn: Callable[[_A], _R], arg: _A) -> _R:
        """``fn(arg)`` inside a read-side section: :meth:`lock`, the call, :meth:`unlock`
        (exceptions included) in one frame, for callers on a hot path (op calls)."""
        state = getattr(self._tls, "state", None) or self._new_state()
        if state.depth:  # nested: the plain pair
            self.lock()
            try:
                return fn(arg)
            finally:
                self.unlock()
        state.epoch = self._epoch
        state.depth = 1
        try:
            return fn(arg)
        finally:
            state.depth = 0
            if self._callbacks or self._waiting:
                self._left()

    def _left(self) -> None:
        """The outermost section of this thread was left with callbacks queued or a waiter."""
        with self._mutex:
            ready = self._take_ready() if self._callbacks else []
            if self._waiting:
                self._cond.notify_all()
        for fn in ready:
            fn()

    def in_reader(self) -> bool:
        """True inside a read-side section on this thread."""
        state = getattr(self._tls, "state", None)
        return state is not None and state.depth > 0

    def active_readers(self) -> int:
        """Number of read-side sections currently open (all threads, nested ones count once)."""
        with self._mutex:
            return sum(1 for state in self._states if state.depth)

    def _oldest(self) -> int | None:
        """The epoch of the oldest open section (None: no reader); call with the lock held."""
        epochs = [state.epoch for state in self._states if state.depth]
        return min(epochs) if epochs else None

    def _take_ready(self) -> list[Callable[[], None]]:
        oldest = self._oldest()
        ready = [fn for epoch, fn in self._callbacks if oldest is None or epoch <= oldest]
        if ready:
            self._callbacks = [(e, fn) for e, fn in self._callbacks if not (oldest is None or e <= oldest)]
            self.grace_periods += 1
        return ready

    def call_rcu(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after every reader that may see the old state has finished."""
        with self._mutex:
            self._epoch += 1
            self._callbacks.append((self._epoch, fn))
            ready = self._take_ready()
        for cb in ready:
            cb()

    def synchronize(self, timeout: float | None = None) -> None:
        """``synchronize_rcu()``: block until pre-existing readers have left."""
        if self.in_reader():
            raise RcuError("synchronize_rcu() called inside an RCU read-side critical section")

        def done() -> bool:
            oldest = self._oldest()
            return oldest is None or oldest >= target

        with self._cond:
            self._epoch += 1
            target = self._epoch
            self._waiting += 1
            try:
                ok = self._cond.wait_for(done, timeout=timeout)
            finally:
                self._waiting -= 1
            if not ok:
                raise RcuError("grace period did not end (a reader is stuck)")
            self.grace_periods += 1
            ready = self._take_ready()
        for cb in ready:
            cb()

    def pending_callbacks(self) -> int:
        """Callbacks still waiting for a grace period."""
        with self._mutex:
            return len(self._callbacks)
