"""Dispatch queues (SX-D1-SX-D8): FIFO or vtime-ordered (PRIQ), never both."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structops.schedsim.model import Task

__all__ = ["Dsq"]


def _vkey(vtime: int) -> int:
    """Signed view of a u64 vtime, so ordering follows ``(s64)(a - b) < 0`` near zero."""
    return vtime - (1 << 64) if vtime >> 63 else vtime


@dataclass(eq=False)
class Dsq:
    """One DSQ: ``tasks`` in run order; ``priq`` once a vtime insert happened (SX-D6)."""

    id: int
    builtin: bool = False
    tasks: list[Task] = field(default_factory=list)
    keys: list[tuple[int, int]] = field(default_factory=list)
    priq: bool = False
    seq: int = 0
    dead: bool = False
    cpu: int = -1  # the CPU of a local DSQ; -1 for the others

    @property
    def nr(self) -> int:
        """Number of queued tasks."""
        return len(self.tasks)

    def insert_fifo(self, task: Task, head: bool) -> None:
        """Tail insert, or head insert for ``SCX_ENQ_HEAD`` / ``SCX_ENQ_PREEMPT``."""
        self.seq += 1
        task.scx.dsq_seq = self.seq
        if head:
            self.tasks.insert(0, task)
        else:
            self.tasks.append(task)

    def insert_vtime(self, task: Task, vtime: int) -> None:
        """Ordered by vtime; equal vtimes keep insertion order."""
        self.seq += 1
        task.scx.dsq_seq = self.seq
        self.priq = True
        key = (_vkey(vtime), self.seq)
        i = bisect.bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.tasks.insert(i, task)

    def remove(self, task: Task) -> None:
        """Take ``task`` out of the queue."""
        i = self.tasks.index(task)
        del self.tasks[i]
        if self.priq:
            del self.keys[i]
        if not self.tasks:
            self.priq = False

    def pop(self, i: int = 0) -> Task:
        """Remove and return the task at position ``i``."""
        t = self.tasks[i]
        self.remove(t)
        return t
