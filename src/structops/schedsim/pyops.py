"""sched_ext ops written in Python: the same core, kfuncs and machine, without BPF.

A :class:`PythonScheduler` subclass implements any of the ``sched_ext_ops`` callbacks as
methods taking the raw u64 arguments (task pointers are ``task_struct`` addresses, as
BPF sees them) and calls kfuncs through :meth:`PythonScheduler.kf` -- the very Python
implementations BPF programs reach.  :func:`attach_python` enables it on a machine as if
a ``sched_ext_ops`` map had been attached.  It serves as the baseline of
``benchmarks/sched_sim.py`` and to check that a BPF scheduler and its Python twin make
identical decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.subsys.sched_ext.core import ScxSched

if TYPE_CHECKING:
    from structops.schedsim.machine import Machine
    from structops.schedsim.model import Task

__all__ = ["PythonScheduler", "attach_python"]


class PythonScheduler:
    """Base class: name, flags, timeout; override the ops you implement."""

    name = "python"
    flags = 0
    timeout_ms = 0

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        kernel = machine.kernel
        self._kf = {k.name: k.fn for k in kernel.kfuncs.values()}

    def kf(self, name: str, *args: int) -> int:
        """Call kfunc ``name`` with u64 arguments."""
        a = list(args) + [0] * (5 - len(args))
        return int(self._kf[name](*a)) & 0xFFFF_FFFF_FFFF_FFFF

    def task(self, addr: int) -> Task:
        """The task behind a ``task_struct`` address."""
        t = self.machine.task_by_addr(addr)
        assert t is not None
        return t


class _Desc:
    def __init__(self, members: list[btflib.Member]) -> None:
        self.type = type("T", (), {"members": members})()

    def member_supported(self, index: int) -> bool:
        return True


class _PyKData:
    """What :class:`ScxSched` needs from a registered map, backed by a Python object."""

    def __init__(self, sched: PythonScheduler, members: list[btflib.Member]) -> None:
        self.sched = sched
        self.desc = _Desc(members)
        self.state: dict[str, Any] = {}

    def read_str(self, name: str) -> str:
        return str(getattr(self.sched, name))

    def read_int(self, name: str) -> int:
        return int(getattr(self.sched, name, 0) or 0)

    def has(self, name: str) -> bool:
        return callable(getattr(type(self.sched), name, None)) and name not in dir(PythonScheduler)

    def call(self, name: str, *args: int) -> int:
        return int(getattr(self.sched, name)(*args) or 0)


def attach_python(machine: Machine, sched: PythonScheduler) -> ScxSched:
    """Enable ``sched`` on ``machine`` (one scheduler at a time, as for BPF ones)."""
    state = machine.kernel.sched_ext  # type: ignore[attr-defined]
    if state.sch is not None:
        raise RuntimeError("a sched_ext scheduler is already attached")
    members = list(machine.kernel.vmlinux.spec.find("sched_ext_ops", btflib.Struct).members)
    sch = ScxSched(_PyKData(sched, members), machine)  # type: ignore[arg-type]
    state.sch = sch
    machine.attach_scx(sch)
    return sch
