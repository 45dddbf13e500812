"""``bpf_timer`` helpers in the verifier (``process_timer_func``, async callbacks).

R1 of ``bpf_timer_init/set_callback/start/cancel`` must point into a map value exactly at
the ``struct bpf_timer`` the map's BTF declares (the map records its offset when
created).  ``bpf_timer_init``'s map (R2) must be the timer's own map.
``bpf_timer_set_callback`` (R2 a static function) queues the callback for verification
as Linux does for async callbacks: a path of its own, one frame, entered as
``cb(map, key, value)`` with no references held; it ends at its exit, where R0 must be
the constant 0 and no reference may be left.  The helper itself returns an integer.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.verifier import precision
from structops.verifier.env import MAX_CALL_FRAMES, Reject
from structops.verifier.state import NOT_INIT, Frame, Reg, RegType, State, unknown

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = ["ASYNC_CALLSITE", "TIMER_HELPERS", "async_exit", "call_timer_helper"]

TIMER_HELPERS = {169: "bpf_timer_init", 170: "bpf_timer_set_callback", 171: "bpf_timer_start", 172: "bpf_timer_cancel"}
#: ``Frame.callsite`` of the single frame of an async (timer) callback path.
ASYNC_CALLSITE = -(1 << 30)


def _need(st: State, regno: int) -> Reg:
    reg = st.cur.regs[regno]
    if reg.type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, f"R{regno} !read_ok")
    return reg


def _timer_arg(st: State) -> object:
    """``process_timer_func``: the map whose value's ``bpf_timer`` R1 points to."""
    reg = _need(st, 1)
    if reg.type != RegType.PTR_TO_MAP_VALUE or reg.maybe_null:
        raise Reject(errno.EACCES, f"R1 type={reg.type_str()} expected=map_value")
    if reg.var_off:
        raise Reject(errno.EINVAL, "R1 doesn't have constant offset. bpf_timer has to be at the constant offset")
    m = reg.obj
    name = getattr(m, "name", "")
    if not getattr(m, "btf_value_type_id", 0):
        raise Reject(errno.EINVAL, f"map '{name}' has to have BTF in order to use bpf_timer")
    off = getattr(m, "timer_off", None)
    if off is None:
        raise Reject(errno.EINVAL, f"map '{name}' has no valid bpf_timer")
    if reg.off != off:
        raise Reject(errno.EINVAL, f"off {reg.off} doesn't point to 'struct bpf_timer' that is at {off}")
    return m


def call_timer_helper(
    v: Verifier,
    st: State,
    pc: int,
    hid: int,
    cp: _Checkpoint | None,
    stack: list[tuple[int, State, _Checkpoint | None]],
) -> int:
    """Check a timer helper call; ``set_callback`` queues its callback's path."""
    name = TIMER_HELPERS[hid]
    if v.env.helper_proto is not None and v.env.helper_proto(hid) is None:
        raise Reject(errno.EINVAL, f"program of this type cannot use helper {name}#{hid}")
    if not v.env.gpl_compatible:
        raise Reject(errno.EINVAL, "cannot call GPL-restricted function from non-GPL compatible program")
    m = _timer_arg(st)
    regs = st.cur.regs
    if hid == 169:
        r2 = _need(st, 2)
        if r2.type != RegType.CONST_PTR_TO_MAP:
            raise Reject(errno.EACCES, f"R2 type={r2.type_str()} expected=map_ptr")
        if r2.obj is not m:
            raise Reject(errno.EINVAL, "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0")
        _need(st, 3)
    elif hid == 170:
        fn = _need(st, 2)
        if fn.type != RegType.PTR_TO_FUNC:
            raise Reject(errno.EACCES, f"R2 type={fn.type_str()} expected=func")
        subs = getattr(v, "subprogs", {})
        sub = subs.get(int(fn.obj))
        if sub is not None and sub.is_global:
            raise Reject(errno.EINVAL, f"bpf_timer_set_callback: callback {sub.name} must be static")
        if len(st.frames) >= MAX_CALL_FRAMES:
            raise Reject(errno.E2BIG, f"the call stack of {len(st.frames) + 1} frames is too deep")
        cb = [NOT_INIT] * 11
        cb[1] = Reg(RegType.CONST_PTR_TO_MAP, 0, 0, obj=m)
        cb[2] = Reg(RegType.PTR_TO_MEM, 0, 0)  # the key (PTR_TO_MAP_KEY)
        cb[3] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m)
        cb[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=0)
        # a path of its own: its history starts at the callback (no parent to backtrack into)
        cb_state = State([Frame(cb, {}, callsite=ASYNC_CALLSITE)], {}, st.priv, first=int(fn.obj))
        stack.append((int(fn.obj), cb_state, cp))
        if cp is not None:
            cp.branches += 1
    elif hid == 171:
        _need(st, 2)
        _need(st, 3)
    for r in range(1, 6):
        regs[r] = NOT_INIT
    regs[0] = unknown()
    return pc + 1


def async_exit(v: Verifier, st: State) -> None:
    """The exit of an async callback: no reference left, R0 the constant 0."""
    for ref, insn in sorted(st.refs.items()):
        raise Reject(errno.EINVAL, f"Unreleased reference id={ref} alloc_insn={insn}")
    r0 = st.cur.regs[0]
    if r0.type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, "R0 !read_ok")
    ctx = "At async callback return the register R0"
    if r0.type == RegType.SCALAR:
        precision.mark(v, st, 0)
    if r0.type != RegType.SCALAR:
        raise Reject(errno.EINVAL, f"{ctx} is not a known value ({r0.type_str()})")
    if not (r0.is_const and r0.umin == 0):
        raise invalid_scalar(ctx, r0)


def invalid_scalar(ctx: str, r0: Reg) -> Reject:
    """The kernel's ``verbose_invalid_scalar`` for a return value that must be 0: the signed
    bounds it knows (or "unknown scalar value") and the range it wanted (EINVAL)."""
    has = "".join(
        [f" smin={r0.smin}" if r0.smin > -(1 << 63) else "", f" smax={r0.smax}" if r0.smax < (1 << 63) - 1 else ""]
    )
    return Reject(errno.EINVAL, f"{ctx} has{has or ' unknown scalar value'} should have been in [0, 0]")
