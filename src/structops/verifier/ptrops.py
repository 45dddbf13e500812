"""Pointer arithmetic and pointer comparisons (``adjust_ptr_min_max_vals``, ``check_cond_jmp_op``).

Split out of :mod:`structops.verifier.core`: what an ALU instruction with a pointer operand
does to the pointer (or why it is refused), and what a conditional jump with a pointer
operand proves: NULL-ness for ``ptr ==/!= 0`` (V13), the checked packet range for a
``pkt`` vs ``pkt_end`` comparison (``try_match_pkt_pointers``).  Without ``allow_ptr_leaks``
(no CAP_PERFMON) Linux also refuses pointer comparisons, pointer minus pointer, and
pointer arithmetic that could leave the object (``sanitize_check_bounds``).
"""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from structops.verifier import speculative
from structops.verifier.env import Reject
from structops.verifier.memory import MAX_VAR_OFF, map_value_region_check, mark_packet_range, packet_compare
from structops.verifier.state import MAX_BPF_STACK, Reg, RegType, State, const, unknown
from structops.verifier.unpriv import alu_limit_before, alu_sanitation

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["mark_null", "ptr_alu", "ptr_jcond"]

#: ``bpf_alu_string``: the operator as the kernel's messages spell it.
_OP_NAMES = {
    0x00: "+=",
    0x10: "-=",
    0x20: "*=",
    0x30: "/=",
    0x40: "|=",
    0x50: "&=",
    0x60: "<<=",
    0x70: ">>=",
    0x90: "%=",
    0xA0: "^=",
    0xC0: "s>>=",
}


_NOT_ROOT = "pointer arithmetic with it prohibited for !root"


def _eacces(msg: str) -> Reject:
    return Reject(errno.EACCES, msg)


def known_not_null(reg: Reg) -> bool:
    """``reg_not_null``: pointers the kernel knows are not NULL (map values, trusted BTF, mem)."""
    if reg.type == RegType.PTR_TO_BTF_ID:
        return reg.trusted or bool(reg.ref_obj_id)
    return reg.type in (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)


def ptr_alu(v: Verifier, d: int, s: int, op: int, dst: Reg, src: Reg, is64: bool, st: State | None = None) -> Reg:
    """``adjust_ptr_min_max_vals`` for ``R<d> op= R<s>`` (``s`` -1: an immediate): pointer +/-
    scalar moves the offset; the rest is refused.  Without ``bypass_spec_v1`` a register
    operand is sanitized (``sanitize_ptr_alu``): on a real path its masking window is
    checked, and a scalar that is not a constant also queues the speculative path where
    the mask truncated it (``st``'s next insn with the pointer unmoved)."""
    leaks = v.env.allow_ptr_leaks
    if dst.is_ptr and src.is_ptr:  # two pointers: only a subtraction, only with allow_ptr_leaks
        if op == 0x10 and leaks:
            return unknown()
        raise _eacces(f"R{d} pointer {_OP_NAMES.get(op, '?')} pointer prohibited")
    if not is64:
        raise _eacces(f"R{d} 32-bit pointer arithmetic prohibited")
    if op not in (0x00, 0x10):
        name = _OP_NAMES.get(op, "?")
        if op in (0x40, 0x50, 0xA0):
            raise _eacces(f"R{d} bitwise operator {name} on pointer prohibited")
        raise _eacces(f"R{d} pointer arithmetic with {name} operator prohibited")
    if op == 0x10 and src.is_ptr:
        raise _eacces(f"R{d} tried to subtract pointer from scalar")
    ptr, sc = (dst, src) if dst.is_ptr else (src, dst)
    if ptr.maybe_null:
        raise _eacces(f"R{d} pointer arithmetic on {ptr.type_str()} prohibited, null-check it first")
    if ptr.type in (RegType.CONST_PTR_TO_MAP, RegType.PTR_TO_FUNC, RegType.PTR_TO_SOCKET):
        raise _eacces(f"R{d} pointer arithmetic on {ptr.type_str()} prohibited")
    if op == 0x10 and ptr.type == RegType.PTR_TO_STACK:
        raise _eacces(f"R{d} subtraction from stack pointer prohibited")
    # can_skip_alu_sanitation: an immediate, bypass_spec_v1, or a speculation barrier here
    sanitize = not leaks and s >= 0 and not v.nospec[v._last_pc]
    spec = st is not None and st.spec
    if sanitize and -MAX_VAR_OFF < sc.smin < MAX_VAR_OFF:  # after check_reg_sane_offset
        # sanitize_ptr_alu; Linux 6.18 names the source register for the scalar and the
        # destination for the pointer, whichever side each is on (measured: ``r0 += r1``
        # names R1, ``r1 += r0`` names R0).  A speculative path skips the checks.
        if not spec:
            if not sc.is_const and sc.smin < 0 <= sc.smax:
                raise _eacces(f"R{s} has unknown scalar with mixed signed bounds, {_NOT_ROOT}")
            if ptr.type not in (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE):
                raise _eacces(f"R{d} has pointer with unsupported alu operation, {_NOT_ROOT}")
            alu_limit_before(d, op, ptr, sc)  # "tried to add beyond pointer bounds"
            if not sc.is_const:  # limit pruning: scalars compared exactly from now on
                v.explore_alu_limits = True
        if not sc.is_const and st is not None:  # the truncated offset, explored speculatively
            speculative.push_branch(v, st, v._last_pc + 1, dst=(d, ptr))
    out = _moved(ptr, sc, op, d)
    if not sc.is_const and out.type in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META):
        out = replace(out, rng=0, id=v.new_id())  # a new base: nothing proven past it yet
    if not leaks:
        _sanitize_check_bounds(d, out, ptr, sc, op)
        if sanitize and not spec:  # a register operand: the masking window must agree on every path
            alu_sanitation(v, d, op, ptr, sc, out, ptr is dst)
    return out


def _moved(ptr: Reg, sc: Reg, op: int, d: int) -> Reg:
    """The pointer after ``ptr += sc`` / ``ptr -= sc`` (``check_reg_sane_offset`` first)."""
    if sc.is_const:  # check_reg_sane_offset on the constant, then on the moved pointer
        delta = sc.umin - (1 << 64) if sc.umin >> 63 else sc.umin
        if abs(delta) >= MAX_VAR_OFF:
            raise Reject(errno.EINVAL, f"math between {ptr.type_str()} pointer and {delta} is not allowed")
        new_off = ptr.off + (-delta if op == 0x10 else delta)
        if abs(new_off) >= MAX_VAR_OFF:
            raise Reject(errno.EINVAL, f"{ptr.type_str()} pointer offset {new_off} is not allowed")
        return replace(ptr, off=new_off)
    if sc.smin == -(1 << 63):  # check_reg_sane_offset (observed EINVAL on 6.18, corpus)
        raise Reject(
            errno.EINVAL,
            f"math between {ptr.type_str()} pointer and register with unbounded min value is not allowed",
        )
    if not -MAX_VAR_OFF < sc.smin < MAX_VAR_OFF:  # check_reg_sane_offset: the scalar's smin
        raise Reject(errno.EINVAL, f"value {sc.smin} makes {ptr.type_str()} pointer be out of bounds")
    lo, hi = (sc.umin, sc.umax) if sc.smin >= 0 else (sc.smin, sc.smax)
    wide = hi >= MAX_VAR_OFF or lo <= -MAX_VAR_OFF
    hi = min(hi, MAX_VAR_OFF)
    if op == 0x10:
        lo, hi = -hi, -lo
    vmin, vmax = ptr.vmin + lo, ptr.vmax + hi
    if wide and op == 0x00 and lo >= 0 and vmin >= 0:  # unbounded above only: umax too large
        vmax = MAX_VAR_OFF
    elif wide or vmin < -MAX_VAR_OFF:
        vmin, vmax = min(vmin, -MAX_VAR_OFF), MAX_VAR_OFF
    elif op == 0x10 and ptr.vmin < sc.umax:  # the unsigned var part may wrap: umax unknown
        vmax = MAX_VAR_OFF
    return replace(ptr, vmin=vmin, vmax=vmax)


def _sanitize_check_bounds(d: int, out: Reg, ptr: Reg, sc: Reg, op: int) -> None:
    """``sanitize_check_bounds`` for a loader without ``bypass_spec_v1``: the moved pointer
    must stay a constant, in-range stack offset, or inside the map value."""
    if out.type == RegType.PTR_TO_STACK:
        if out.var_off:
            tv, tm = (sc.tv, sc.tm) if not ptr.var_off and op == 0x00 else (0, _span_mask(out.vmax - out.vmin))
            raise _eacces(
                f"R{d} variable stack access prohibited for !root, var_off=(0x{tv:x}; 0x{tm:x}) off={out.off}"
            )
        if out.off >= 0 or out.off < -MAX_BPF_STACK:
            raise _eacces(f"R{d} stack pointer arithmetic goes out of range, prohibited for !root; off={out.off}")
    elif out.type == RegType.PTR_TO_MAP_VALUE:
        try:
            map_value_region_check(d, out, 0, 1, int(getattr(out.obj, "value_size", 0)))
        except Reject as rej:
            msg = f"R{d} pointer arithmetic of map value goes out of range, prohibited for !root"
            raise _eacces(f"{rej.message}\n{msg}") from None


def _span_mask(width: int) -> int:
    mask = 0
    while mask < width:
        mask = (mask << 1) | 1
    return mask


def _push(st: State, target: int, cp: Any, stack: Any) -> None:
    stack.append((target, st, cp))
    if cp is not None:
        cp.branches += 1


def ptr_jcond(
    v: Verifier,
    pc: int,
    st: State,
    cp: Any,
    stack: Any,
    op: int,
    d: int,
    s: int,
    a: Reg,
    b: Reg,
    is64: bool,
    target: int,
) -> int | None:
    """A conditional jump with a pointer operand (``s`` is -1 for an immediate).

    ``ptr ==/!= 0`` decides NULL-ness (V13) when 0 is an immediate (a register known to be 0
    only decides the jump for a pointer that cannot be NULL, as in ``is_branch_taken``; it
    marks nothing, and an unprivileged loader may not compare with it: measured on 6.18);
    ``pkt`` vs ``pkt_end`` proves a packet range on
    one side; other comparisons explore both sides (refused without ``allow_ptr_leaks``)."""
    leaks = v.env.allow_ptr_leaks
    pkts = (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_END, RegType.PTR_TO_PACKET_META)
    if s >= 0 and b.is_ptr and not leaks and not (a.type in pkts and b.type in pkts):
        raise _eacces(f"R{s} pointer comparison prohibited")
    ptr, other_reg = (a, b) if a.is_ptr else (b, a)
    zero = other_reg.type == RegType.SCALAR and other_reg.is_const and other_reg.umin == 0
    if op in (0x10, 0x50) and zero and is64 and not ptr.maybe_null and known_not_null(ptr):
        # is_branch_taken: a non-NULL pointer is never 0 (a 32-bit compare is not decided:
        # measured on 6.18); without bypass_spec_v1 the other side is explored speculatively
        if not leaks:
            speculative.push_branch(v, st, target if op == 0x10 else pc + 1, (d, s) if s >= 0 else (d,))
        return pc + 1 if op == 0x10 else target
    if op in (0x10, 0x50) and zero and is64 and s < 0:  # NULL checks are against an immediate 0 only
        if not ptr.maybe_null:
            _push(st.copy(), target, cp, stack)  # e.g. a walked (untrusted) pointer
            return pc + 1
        null_st = st.copy()
        mark_null(null_st, ptr, True)
        mark_null(st, ptr, False)
        taken, fall = (null_st, st) if op == 0x10 else (st.copy(), null_st)
        _push(taken, target, cp, stack)
        st.frames, st.refs = fall.frames, fall.refs
        return pc + 1
    match = packet_compare(op, a, b) if is64 and s >= 0 else None
    if match is None and a.is_ptr and not leaks:
        if st.spec:  # check_cond_jmp_op refuses it after queueing the jump's target
            _push(st.copy(), target, cp, stack)
        raise _eacces(f"R{d} pointer comparison prohibited")
    other = st.copy()
    if match is not None:
        on_taken, ptr, right_open = match
        mark_packet_range(other if on_taken else st, ptr, right_open)
    _push(other, target, cp, stack)
    return pc + 1


def mark_null(st: State, ptr: Reg, is_null: bool) -> None:
    """``mark_ptr_or_null_regs``: every copy of ``ptr`` (same id) becomes 0 or non-NULL."""
    pid = ptr.id

    def fix(r: Reg) -> Reg:
        if not r.maybe_null or r.id != pid or r.type != ptr.type:
            return r
        if is_null:
            return const(0)
        return replace(r, maybe_null=False)

    if pid:
        st.map_regs(fix)
    if is_null and ptr.ref_obj_id:
        st.refs.pop(ptr.ref_obj_id, None)
