"""``struct bpf_timer`` in map values: the helpers (169-172) and the queue that fires them.

A map whose value's BTF holds a ``struct bpf_timer`` (16 bytes, 8-aligned, one per
value; only in ``ARRAY``, ``HASH`` and ``LRU_HASH`` maps, else -EOPNOTSUPP, as
``map_check_btf``) records its offset (:func:`find_timer`).  At run time a timer is
known by the address of its ``bpf_timer``:

* ``bpf_timer_init(timer, map, flags)``: ``flags`` is the clock (``CLOCK_MONOTONIC``,
  ``CLOCK_REALTIME`` or ``CLOCK_BOOTTIME``, else -EINVAL); a second init is -EBUSY;
* ``bpf_timer_set_callback(timer, fn)``: -EINVAL before init; the callback is a
  subprogram of the calling program, called as ``fn(map, key, value)``;
* ``bpf_timer_start(timer, nsecs, flags)``: -EINVAL before init or without a callback
  or with flags other than ``BPF_F_TIMER_ABS`` / ``BPF_F_TIMER_CPU_PIN``; (re)arms the
  timer for ``now + nsecs`` (or ``nsecs`` with ``ABS``) on the VM's clock; the callback
  runs on the CPU that started it;
* ``bpf_timer_cancel(timer)``: -EINVAL before init, -EDEADLK from its own callback,
  else 1 if it was armed, 0 if not.

The :class:`TimerQueue` of a VM (:func:`timers_of`) holds the armed timers; whoever
owns the clock (the scheduling simulator's machine) calls :meth:`TimerQueue.fire_due`
and learns of new deadlines through :attr:`TimerQueue.on_arm`.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import VMFault, bpf_error
from structops.vm.helpers import ArgType, HelperSpec

if TYPE_CHECKING:
    from structops.kernel.maps.base import BpfMap
    from structops.vm.context import VM, RunContext
    from structops.vm.program import Program

__all__ = ["TIMER_SIZE", "TimerQueue", "drive_timers", "find_timer", "timer_helpers", "timers_of"]

TIMER_SIZE = 16
_M64 = (1 << 64) - 1
_CLOCKS = (0, 1, 7)  # CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME
BPF_F_TIMER_ABS = 1
BPF_F_TIMER_CPU_PIN = 2
_TIMER_MAPS = (1, 2, 9)  # HASH, ARRAY, LRU_HASH


def _timer_offsets(t: btflib.Type, base: int, depth: int = 0) -> list[int]:
    u = btflib.underlying(t)
    if isinstance(u, btflib.Struct) and u.name == "bpf_timer":
        return [base]
    out: list[int] = []
    if isinstance(u, btflib.Struct | btflib.Union) and depth < 8:
        for m in u.members:
            out += _timer_offsets(m.type, base + m.bit_offset // 8, depth + 1)
    elif isinstance(u, btflib.Array) and depth < 8 and u.nelems:
        size = btflib.sizeof(u.type)
        for i in range(min(u.nelems, 2)):  # two are enough to see a duplicate
            out += _timer_offsets(u.type, base + i * size, depth + 1)
    return out


def find_timer(m: BpfMap, value_type: btflib.Type) -> int | None:
    """The ``bpf_timer`` offset in ``value_type`` (``btf_parse_fields``), None when absent."""
    offs = _timer_offsets(value_type, 0)
    if not offs:
        return None
    if len(offs) > 1:
        raise bpf_error(errno.EINVAL, "map value has more than one struct bpf_timer")
    if offs[0] % 8:
        raise bpf_error(errno.EINVAL, f"struct bpf_timer at offset {offs[0]} of the map value is not 8-byte aligned")
    if m.map_type not in _TIMER_MAPS:
        raise bpf_error(errno.EOPNOTSUPP, "a struct bpf_timer is only supported in ARRAY, HASH and LRU_HASH map values")
    return offs[0]


@dataclass
class _Timer:
    map_addr: int
    backend: Any
    callback: int = 0
    program: Program | None = None
    engine: str = "fast"
    expires: int | None = None
    cpu: int = 0
    running: bool = False


class TimerQueue:
    """The armed BPF timers of one VM, fired by the owner of the clock."""

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.timers: dict[int, _Timer] = {}
        #: Called with the deadline of every (re)armed timer (the clock owner schedules it).
        self.on_arm: Callable[[int], None] | None = None
        #: Faults of callbacks, by timer address (the callback stops; the kernel would oops).
        self.faults: list[tuple[int, VMFault]] = []
        self.fired = 0

    def next_due(self) -> int | None:
        """The earliest deadline, or None when no timer is armed."""
        due = [t.expires for t in self.timers.values() if t.expires is not None]
        return min(due) if due else None

    def fire_due(self, now: int) -> int:
        """Run the callbacks of timers due by ``now`` (deadline order); returns how many ran."""
        n = 0
        while True:
            due = [(t.expires, a) for a, t in self.timers.items() if t.expires is not None and t.expires <= now]
            if not due:
                return n
            _, addr = min(due)
            self._fire(addr, self.timers[addr])
            n += 1

    def _fire(self, addr: int, t: _Timer) -> None:
        from structops.vm.context import RunContext

        t.expires = None
        prog = t.program
        if prog is None or not t.callback:
            return
        vm = self.vm
        m = getattr(t.backend, "m", None)
        value = addr - int(getattr(m, "timer_off", 0) or 0)
        key = _key_of(m, value)
        if key is None:
            return  # the element is gone (deleted, map freed)
        kreg = vm.space.map(max(len(key), 8), name="bpf_timer key", kind="kernel")
        run = RunContext(vm, prog, engine=t.engine, limit=vm.insn_limit)
        run.grants.update(prog.grants)
        for a in (value, t.map_addr, kreg.base):
            run.space.grant(a)
        outer, saved_cpu = vm.active, vm.cpu
        vm.active, vm.cpu = run, t.cpu
        t.running = True
        self.fired += 1
        try:
            vm.space.write(kreg.base, key)
            prog.call_function(run, t.callback, (t.map_addr, kreg.base, value))
        except VMFault as fault:
            self.faults.append((addr, fault))
        finally:
            t.running = False
            vm.active, vm.cpu = outer, saved_cpu
            vm.space.unmap(kreg)


def _key_of(m: Any, value: int) -> bytes | None:
    """The key of the element whose value is at ``value``."""
    if m is None:
        return None
    if int(getattr(m, "map_type", -1)) == 2:  # ARRAY: index from the address
        base, size = m.value_addr(0), m.elem_size
        idx = (value - base) // size
        return struct.pack("<I", idx) if 0 <= idx < m.max_entries and (value - base) % size == 0 else None
    key: bytes | None = None
    while True:
        try:
            key = m.get_next_key(key)
        except OSError:
            return None
        if int(m.prog_lookup(key)) == value:
            return key


def drive_timers(vm: VM, schedule: Callable[[int], None]) -> Callable[[Any], None]:
    """Let the owner of ``vm``'s clock drive its timers: ``schedule(when)`` is called for every
    deadline armed from now on (and the ones already armed); the returned handler fires the
    timers due at the VM's clock when such an event comes."""
    q = timers_of(vm)
    q.on_arm = schedule
    for t in q.timers.values():
        if t.expires is not None:
            schedule(t.expires)

    def handler(_: Any) -> None:
        q.fire_due(vm.clock_ns())

    return handler


def timers_of(vm: VM) -> TimerQueue:
    """The :class:`TimerQueue` of ``vm`` (created on first use)."""
    q = vm.__dict__.get("bpf_timers")
    if q is None:
        q = vm.__dict__["bpf_timers"] = TimerQueue(vm)
    return q


def _timer_init(run: RunContext, timer: int, map_addr: int, flags: int, *_: int) -> int:
    q = timers_of(run.vm)
    if flags >> 32 or flags not in _CLOCKS:
        return -errno.EINVAL & _M64
    if timer in q.timers:
        return -errno.EBUSY & _M64
    backend = run.vm.map_at(map_addr)
    if backend is None:
        return -errno.EINVAL & _M64
    q.timers[timer] = _Timer(map_addr, backend)
    return 0


def _timer_set_callback(run: RunContext, timer: int, fn: int, *_: int) -> int:
    t = timers_of(run.vm).timers.get(timer)
    if t is None:
        return -errno.EINVAL & _M64
    t.callback, t.program, t.engine = fn, run.program, run.engine
    return 0


def _timer_start(run: RunContext, timer: int, nsecs: int, flags: int, *_: int) -> int:
    q = timers_of(run.vm)
    t = q.timers.get(timer)
    if t is None or not t.callback or flags & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN):
        return -errno.EINVAL & _M64
    now = run.vm.clock_ns()
    t.expires = nsecs if flags & BPF_F_TIMER_ABS else now + nsecs
    t.cpu = run.vm.cpu
    if q.on_arm is not None:
        q.on_arm(t.expires)
    return 0


def _timer_cancel(run: RunContext, timer: int, *_: int) -> int:
    t = timers_of(run.vm).timers.get(timer)
    if t is None:
        return -errno.EINVAL & _M64
    if t.running and run.vm.active is run:
        return -errno.EDEADLK & _M64
    was = t.expires is not None
    t.expires = None
    return int(was)


def timer_helpers() -> list[HelperSpec]:
    """The VM implementations of helpers 169-172."""
    A = ArgType
    return [
        HelperSpec(169, "bpf_timer_init", _timer_init, (A.ANYTHING, A.CONST_MAP_PTR, A.ANYTHING)),
        HelperSpec(170, "bpf_timer_set_callback", _timer_set_callback, (A.ANYTHING, A.ANYTHING)),
        HelperSpec(171, "bpf_timer_start", _timer_start, (A.ANYTHING, A.ANYTHING, A.ANYTHING)),
        HelperSpec(172, "bpf_timer_cancel", _timer_cancel, (A.ANYTHING,)),
    ]
