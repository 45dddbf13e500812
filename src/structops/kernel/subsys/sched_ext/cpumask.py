"""``struct bpf_cpumask`` kfuncs (kernel/bpf/cpumask.c, Linux 6.18) and ``bpf_kptr_xchg``.

A ``bpf_cpumask`` is a refcounted kernel object: a ``cpumask_t`` (NR_CPUS bits) at offset 0
and a ``refcount_t``.  ``bpf_cpumask_create`` returns a zeroed one with one reference
(KF_ACQUIRE | KF_RET_NULL), ``bpf_cpumask_acquire`` takes another, ``bpf_cpumask_release``
drops one and frees the object after an RCU grace period when the last goes (readers that
loaded it from a map under RCU may still use it until then).  Programs keep them in map
values as ``__kptr`` fields, exchanged with ``bpf_kptr_xchg`` (helper 194).

Operations work on ``nr_cpu_ids`` bits (the machine's CPU count): a CPU number at or past
it is ignored by set/clear and tests false; "first" style queries return ``nr_cpu_ids``
when nothing is found; ``setall`` sets the first ``nr_cpu_ids`` bits.  The read-only ones
take any ``const struct cpumask *`` (a task's ``cpus_ptr``, an scx idle mask, a
``bpf_cpumask``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.kernel.subsystem import KfuncDef
from structops.uapi import ProgType
from structops.verifier.ops import KF

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation
    from structops.kernel.subsys.sched_ext import ScxState
    from structops.vm import HelperSpec

__all__ = ["CPUMASK_FLAGS", "cpumask_kfuncs", "kptr_xchg_helper"]

M64 = (1 << 64) - 1
MASK_BYTES = 32  # cpumask_t: NR_CPUS (256) bits
_OBJ_SIZE = 40  # cpumask_t + refcount_t, 8-aligned
#: cpumask.c registers its set for tracing, LSM and struct_ops programs (and syscall).
_PROGS = frozenset(
    {
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        ProgType.BPF_PROG_TYPE_TRACING,
        ProgType.BPF_PROG_TYPE_LSM,
        ProgType.BPF_PROG_TYPE_SYSCALL,
    }
)
_ACQ, _REL, _NULL, _TRUSTED, _RCU = 1, 2, 4, 16, 128

#: ``KF_*`` flags of cpumask_kfunc_btf_ids (include/linux/btf.h bit values).
CPUMASK_FLAGS = {
    "bpf_cpumask_create": _ACQ | _NULL,
    "bpf_cpumask_acquire": _ACQ | _TRUSTED,
    "bpf_cpumask_release": _REL,
    "bpf_cpumask_first_zero": _RCU,
    "bpf_cpumask_first_and": _RCU,
    "bpf_cpumask_set_cpu": _RCU,
    "bpf_cpumask_clear_cpu": _RCU,
    "bpf_cpumask_test_and_set_cpu": _RCU,
    "bpf_cpumask_test_and_clear_cpu": _RCU,
    "bpf_cpumask_setall": _RCU,
    "bpf_cpumask_clear": _RCU,
    "bpf_cpumask_and": _RCU,
    "bpf_cpumask_or": _RCU,
    "bpf_cpumask_xor": _RCU,
    "bpf_cpumask_equal": _RCU,
    "bpf_cpumask_intersects": _RCU,
    "bpf_cpumask_subset": _RCU,
    "bpf_cpumask_full": _RCU,
    "bpf_cpumask_copy": _RCU,
    "bpf_cpumask_any_distribute": _RCU,
    "bpf_cpumask_any_and_distribute": _RCU,
}


def cpumask_kfuncs(kernel: EmulatedKernel, state: ScxState) -> list[KfuncDef]:
    """The bpf_cpumask kfuncs this module implements (the read-only basics live in kfuncs.py)."""
    space = kernel.kmem.space
    objs: dict[int, Allocation] = {}
    rotor = [0]  # cpumask_any_distribute's "previous pick"

    def nr() -> int:
        m = state.machine
        return m.nr_cpus if m is not None else 1

    def bits(addr: int) -> int:
        if not addr:
            return 0
        return int.from_bytes(space.read(addr, MASK_BYTES), "little") & ((1 << nr()) - 1)

    def store(addr: int, v: int) -> int:
        space.write(addr, (v & ((1 << nr()) - 1)).to_bytes(MASK_BYTES, "little"))
        return 0

    def first(v: int) -> int:
        return (v & -v).bit_length() - 1 if v else nr()

    def ref(addr: int, delta: int) -> int:
        (n,) = struct.unpack("<i", space.read(addr + MASK_BYTES, 4))
        n += delta
        space.write(addr + MASK_BYTES, struct.pack("<i", n))
        return int(n)

    impl: dict[str, Callable[..., int]] = {}

    def kf(name: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
        def deco(fn: Callable[..., int]) -> Callable[..., int]:
            impl[name] = fn
            return fn

        return deco

    @kf("bpf_cpumask_create")
    def create(*_: int) -> int:
        a = kernel.kmem.alloc(_OBJ_SIZE, "bpf_cpumask")
        objs[a.addr] = a
        ref(a.addr, 1)
        return a.addr

    @kf("bpf_cpumask_acquire")
    def acquire(addr: int, *_: int) -> int:
        ref(addr, 1)
        return addr

    @kf("bpf_cpumask_release")
    def release(addr: int, *_: int) -> int:
        if addr and ref(addr, -1) == 0:
            a = objs.pop(addr, None)
            if a is not None:
                _free_after_gp(kernel, a)
        return 0

    def set_bit(cpu: int, addr: int, on: bool) -> int:
        cpu &= 0xFFFFFFFF
        if cpu >= nr():
            return 0
        v = bits(addr)
        old = v >> cpu & 1
        store(addr, v | 1 << cpu if on else v & ~(1 << cpu))
        return old

    from structops.kernel.maps.kptr_dtor import register_dtor

    register_dtor(kernel, "bpf_cpumask", release)  # bpf_cpumask_release_dtor

    kf("bpf_cpumask_set_cpu")(lambda cpu, addr, *_: set_bit(cpu, addr, True) & 0)
    kf("bpf_cpumask_clear_cpu")(lambda cpu, addr, *_: set_bit(cpu, addr, False) & 0)
    kf("bpf_cpumask_test_and_set_cpu")(lambda cpu, addr, *_: set_bit(cpu, addr, True))
    kf("bpf_cpumask_test_and_clear_cpu")(lambda cpu, addr, *_: set_bit(cpu, addr, False))
    kf("bpf_cpumask_setall")(lambda addr, *_: store(addr, (1 << 256) - 1))
    kf("bpf_cpumask_clear")(lambda addr, *_: store(addr, 0))

    @kf("bpf_cpumask_and")
    def and_(dst: int, a: int, b: int, *_: int) -> int:
        v = bits(a) & bits(b)
        store(dst, v)
        return int(v != 0)

    kf("bpf_cpumask_or")(lambda dst, a, b, *_: store(dst, bits(a) | bits(b)))
    kf("bpf_cpumask_xor")(lambda dst, a, b, *_: store(dst, bits(a) ^ bits(b)))
    kf("bpf_cpumask_copy")(lambda dst, src, *_: store(dst, bits(src)))
    kf("bpf_cpumask_equal")(lambda a, b, *_: int(bits(a) == bits(b)))
    kf("bpf_cpumask_intersects")(lambda a, b, *_: int(bits(a) & bits(b) != 0))
    kf("bpf_cpumask_subset")(lambda a, b, *_: int(bits(a) & ~bits(b) == 0))
    kf("bpf_cpumask_full")(lambda a, *_: int(bits(a) == (1 << nr()) - 1))
    kf("bpf_cpumask_first_zero")(lambda a, *_: first(~bits(a) & ((1 << nr()) - 1)))
    kf("bpf_cpumask_first_and")(lambda a, b, *_: first(bits(a) & bits(b)))

    def distribute(v: int) -> int:
        """cpumask_any_distribute: the next set CPU after the previous pick, wrapping."""
        if not v:
            return nr()
        after = v & ~((1 << (rotor[0] + 1)) - 1)
        pick = first(after) if after else first(v)
        rotor[0] = pick
        return pick

    kf("bpf_cpumask_any_distribute")(lambda a, *_: distribute(bits(a)))
    kf("bpf_cpumask_any_and_distribute")(lambda a, b, *_: distribute(bits(a) & bits(b)))

    return [KfuncDef(n, fn, KF(CPUMASK_FLAGS[n]), _PROGS) for n, fn in impl.items()]


def _free_after_gp(kernel: EmulatedKernel, a: Allocation) -> None:
    rcu = getattr(kernel, "rcu", None)
    call = getattr(rcu, "call_rcu", None)
    if call is not None:
        call(lambda: kernel.kmem.free(a))
    else:
        kernel.kmem.free(a)


def kptr_xchg_helper(kernel: EmulatedKernel) -> list[HelperSpec]:
    """``bpf_kptr_xchg(dst, ptr)`` (helper 194): store ``ptr`` in the kptr slot, return the old one."""
    from structops.vm import ArgType
    from structops.vm import HelperSpec as Spec

    space = kernel.kmem.space

    def xchg(run: object, r1: int, r2: int, *_: int) -> int:
        (old,) = struct.unpack("<Q", space.read(r1, 8))
        space.write(r1, struct.pack("<Q", r2 & M64))
        grants: set[int] | None = getattr(run, "grants", None)
        region = space.region_at(old) if old and grants is not None else None
        if region is not None and grants is not None:  # the program now holds (and may read) the old object
            grants.add(region.base)
        return int(old)

    return [Spec(194, "kptr_xchg", xchg, (ArgType.ANYTHING, ArgType.ANYTHING))]
