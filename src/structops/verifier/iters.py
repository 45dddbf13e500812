"""Open-coded iterators (``bpf_for``, ``bpf_for_each``): ``KF_ITER_NEW/NEXT/DESTROY`` kfuncs.

As Linux 6.18 does it (``process_iter_arg``, ``process_iter_next_call``): an iterator is a
``struct bpf_iter_<type>`` on the program's stack.  ``_new`` needs slots that do not hold
an iterator yet, marks them (``STACK_ITER``: here a :class:`Reg` of type ``ITER`` per
8-byte slot, the first one carrying the iterator's reference) and acquires a reference,
so an iterator never destroyed is an "Unreleased reference" at exit.  ``_next`` and
``_destroy`` need an initialised iterator of the same type.  ``_next`` forks: the path
that goes on sees the iterator drained (R0 = NULL); a queued path sees it active one
level deeper (R0 not NULL), with the scalars that changed since the previous visit of
the same call on this path widened to unknown when they are not precise there
(``widen_imprecise_scalars``).  At the ``_next``
call a state covered by any earlier state there, even one still being explored, has
converged when its iterator is active (the loop invariant holds).  ``_destroy``
releases the reference and leaves the slots uninitialised.
"""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.isa.scan import slots_with_opcode
from structops.verifier.env import Reject
from structops.verifier.ops import KF
from structops.verifier.state import Frame, Reg, RegType, State, const, widen_scalars

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = [
    "ITER_ACTIVE",
    "ITER_DRAINED",
    "ITER_KINDS",
    "check_iter_arg",
    "iter_next_pcs",
    "next_call",
    "valid_iter",
]

ITER_ACTIVE = 1
ITER_DRAINED = 2
ITER_KINDS = KF.ITER_NEW | KF.ITER_NEXT | KF.ITER_DESTROY
_PREFIX = "bpf_iter_"


def _type_str(t: btflib.Struct) -> str:
    """``iter_type_str``: the BTF name without its ``bpf_iter_`` prefix (``num``)."""
    name = t.name or ""
    return name[len(_PREFIX) :] if name.startswith(_PREFIX) else name


def _iter_struct(k: object) -> btflib.Struct | None:
    func = getattr(k, "func", None)
    params = func.type.params if func is not None else ()
    if not params:
        return None
    pt = btflib.underlying(params[0].type)
    if not isinstance(pt, btflib.Pointer):
        return None
    target = btflib.underlying(pt.target)
    return target if isinstance(target, btflib.Struct) else None


def _slots(v: Verifier, st: State, it: btflib.Struct, flags: KF) -> tuple[Frame, int, int]:
    """(frame, first slot index, number of slots) of the iterator R1 points to."""
    reg = st.cur.regs[1]
    if reg.type == RegType.SCALAR and reg.is_const and reg.umin == 0:
        raise Reject(errno.EACCES, "Possibly NULL pointer passed to trusted arg0")
    if reg.type != RegType.PTR_TO_STACK:
        raise Reject(errno.EINVAL, "arg#0 expected pointer to an iterator on stack")
    want = "uninitialized" if flags & KF.ITER_NEW else "an initialized"
    bad = f"expected {want} iter_{_type_str(it)} as arg #0"
    if reg.var_off:
        raise Reject(errno.EINVAL, f"arg#0 iterator on stack must be at a constant offset\n{bad}")
    off = reg.off
    nr = max(1, it.size // 8)
    if off % 8 or off < -512 or off + nr * 8 > 0:
        raise Reject(errno.EINVAL, f"cannot pass in iter at an offset={off}\n{bad}")
    frameno = int(reg.obj or 0)
    if frameno >= len(st.frames):
        raise Reject(errno.EACCES, "R1 invalid stack pointer to a returned frame")
    frame = st.frames[frameno]
    first = (-off - 1) // 8  # slot of the lowest address byte; the iterator spans first..first-nr+1
    return frame, first, nr


def _valid_init(frame: Frame, first: int, nr: int, it: btflib.Struct, refs: dict[int, int]) -> Reg | None:
    """The iterator's first slot when all its slots hold this iterator (``is_iter_reg_valid_init``)."""
    head = frame.stack.get(first - nr + 1)
    for i in range(nr):
        slot = frame.stack.get(first - i)
        if not isinstance(slot, Reg) or slot.type != RegType.ITER or slot.obj is not it:
            return None
        if slot.off != i:
            return None
    if not isinstance(head, Reg) or head.ref_obj_id not in refs:
        return None
    return head


def valid_iter(frame: Frame, off: int, it: btflib.Struct, refs: dict[int, int]) -> Reg | None:
    """The head slot of the initialised ``it`` iterator at stack offset ``off`` of ``frame``, or None."""
    return _valid_init(frame, (-off - 1) // 8, max(1, it.size // 8), it, refs)


def check_iter_arg(v: Verifier, st: State, pc: int, k: object, flags: KF) -> None:
    """``process_iter_arg`` for R1 of an iterator kfunc: init (NEW), check (NEXT), release (DESTROY)."""
    it = _iter_struct(k)
    if it is None:
        raise Reject(errno.EINVAL, f"kfunc {getattr(k, 'name', '?')} has no iterator argument")
    frame, first, nr = _slots(v, st, it, flags)
    if flags & KF.ITER_NEW:
        for i in range(nr):
            slot = frame.stack.get(first - i)
            if isinstance(slot, Reg) and slot.type == RegType.ITER:
                raise Reject(errno.EINVAL, f"expected uninitialized iter_{_type_str(it)} as arg #0")
        ref = v.new_id()
        st.refs[ref] = pc
        # slot i of the iterator (i = 0 at the lowest address) ; the head (i = nr-1... see below)
        for i in range(nr):
            frame.stack[first - i] = Reg(
                RegType.ITER, ITER_ACTIVE, ITER_ACTIVE, off=i, obj=it, ref_obj_id=ref if i == nr - 1 else 0
            )
        return
    head = _valid_init(frame, first, nr, it, st.refs)
    if head is None:
        raise Reject(errno.EINVAL, f"expected an initialized iter_{_type_str(it)} as arg #0")
    if flags & KF.ITER_DESTROY:
        for i in range(nr):
            frame.stack.pop(first - i, None)
        ref = head.ref_obj_id
        st.refs.pop(ref, None)


def _head(st: State, it: btflib.Struct) -> tuple[Frame, int, Reg] | None:
    reg = st.cur.regs[1]
    if reg.type != RegType.PTR_TO_STACK or reg.var_off or reg.off % 8:
        return None
    frameno = int(reg.obj or 0)
    if frameno >= len(st.frames):
        return None
    frame = st.frames[frameno]
    nr = max(1, it.size // 8)
    idx = (-reg.off - 1) // 8 - nr + 1
    head = frame.stack.get(idx)
    if not isinstance(head, Reg) or head.type != RegType.ITER:
        return None
    return frame, idx, head


def iter_next_pcs(v: Verifier) -> dict[int, btflib.Struct]:
    """Call insns of ``KF_ITER_NEXT`` kfuncs (forced pruning points), with their iterator type."""
    out: dict[int, btflib.Struct] = {}
    if v.env.kfunc is None:
        return out
    for pc in slots_with_opcode(v._raw, b"\x85"):
        c, _d, s, o, i = v.code[pc]
        if c != 0x85 or s != 2:
            continue
        try:
            k = v.env.kfunc(i, o)
        except Exception:
            k = None
        if k is None or not KF(getattr(k, "flags", 0)) & KF.ITER_NEXT:
            continue
        it = _iter_struct(k)
        if it is not None:
            out[pc] = it
    return out


def _prev_entry(pc: int, st: State, cp: _Checkpoint | None) -> State | None:
    """``find_prev_entry``: the latest state at ``pc`` on the current path (before this visit)."""
    node = cp.parent if cp is not None and cp.pc == pc else cp
    calls = [f.callsite for f in st.frames]
    while node is not None:
        if node.pc == pc and [f.callsite for f in node.state.frames] == calls:
            return node.state
        node = node.parent
    return None


def next_call(
    v: Verifier,
    st: State,
    pc: int,
    cp: _Checkpoint | None,
    stack: list[tuple[int, State, _Checkpoint | None]],
    btf_id: int,
    off: int,
) -> int:
    """``process_iter_next_call``: check the kfunc call, then fork drained / active."""
    from structops.verifier import calls

    it = v.iter_next[pc]
    found = _head(st, it)
    calls.call_kfunc(v, st, pc, btf_id, off)  # checks the iterator (R1) first
    assert found is not None  # call_kfunc rejected an uninitialised iterator
    frame, idx, head = found
    r0 = st.cur.regs[0]
    if head.umin == ITER_ACTIVE:
        from structops.verifier.precision import flush

        flush(v, st)  # the marks the widening reads
        queued = st.copy()
        qframe = queued.frames[st.frames.index(frame)]
        qframe.stack[idx] = replace(head, vmin=head.vmin + 1)  # depth + 1 (ignored by comparisons)
        prev = _prev_entry(pc, st, cp)
        before = _head(prev, it) if prev is not None else None
        # widen_imprecise_scalars against an earlier visit of the same iterator
        if prev is not None and before is not None and before[2].ref_obj_id == head.ref_obj_id:
            widen_scalars(prev, queued)
        queued.cur.regs[0] = replace(r0, maybe_null=False) if r0.is_ptr else r0
        stack.append((pc + 1, queued, cp))
        if cp is not None:
            cp.branches += 1
    frame.stack[idx] = replace(head, umin=ITER_DRAINED, umax=ITER_DRAINED)
    st.cur.regs[0] = const(0)
    return pc + 1
