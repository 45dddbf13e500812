"""Atomic memory insns: ``BPF_STX | BPF_ATOMIC`` (``check_atomic`` of Linux 6.18).

Load-acquire reads like an ``LDX`` into dst, store-release writes like an ``STX`` from src.
A read-modify-write (add/or/and/xor, with or without ``BPF_FETCH``, ``xchg``, ``cmpxchg``)
needs src readable and a dst pointer it may target (not the context: EACCES), R0 readable
for ``cmpxchg``, strict alignment on a map value, and both a read and a write access; the
fetched old value becomes an unknown scalar of the access size (in R0 for ``cmpxchg``, in
src otherwise).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.isa.opcodes import AtomicOp
from structops.verifier.env import Reject
from structops.verifier.memory import check_access, sized_unknown
from structops.verifier.speculative import store_barrier
from structops.verifier.state import RegType, State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["check_atomic"]

#: Pointer kinds an atomic read-modify-write may not target (ctx, packet, flow keys, sockets).
_NO_ATOMIC = frozenset({RegType.PTR_TO_CTX})


def check_atomic(v: Verifier, st: State, d: int, s: int, o: int, i: int, size: int) -> None:
    """Check one atomic insn (``imm`` = the :class:`AtomicOp`) and apply its register effects."""
    regs = st.cur.regs
    if i == AtomicOp.LOAD_ACQ:
        v._src_ok(st, s)
        v._dst_ok(d)
        val = check_access(v, st, s, o, size, write=False, value=None)
        assert val is not None
        regs[d] = val
        return
    if i == AtomicOp.STORE_REL:
        value = v._src_ok(st, s)
        store_barrier(v, st, d, o, size, value)
        check_access(v, st, d, o, size, write=True, value=value if size == 8 else None)
        return
    v._src_ok(st, s)
    base = v._src_ok(st, d)
    if base.type in _NO_ATOMIC:  # check_atomic_rmw; BTF pointers go through btf_struct_access
        raise Reject(errno.EACCES, f"BPF_ATOMIC stores into R{d} {base.type_str()} is not allowed")
    if i == AtomicOp.CMPXCHG:
        v._src_ok(st, 0)
    if base.type == RegType.PTR_TO_MAP_VALUE and not base.var_off and (base.off + o) % size:
        # check_atomic: strict alignment, whatever the program's flags
        raise Reject(errno.EACCES, f"misaligned value access off 0+{base.off}+{o} size {size}")
    check_access(v, st, d, o, size, write=False, value=None)
    store_barrier(v, st, d, o, size, None)
    check_access(v, st, d, o, size, write=True, value=None)
    if i == AtomicOp.CMPXCHG:
        regs[0] = sized_unknown(size)
    elif i & 0x01:  # BPF_FETCH (incl. xchg)
        regs[s] = sized_unknown(size)
