"""Linked scalars (``reg->id`` of a scalar), as Linux 6.18.

Registers (and spilled stack slots) that hold the same unknown value share an id: a copy
``r1 = r0`` gives ``r0`` an id if it had none and ``r1`` the same one (also ``w1 = w0``
when ``r0`` fits in 32 bits, and a sign-extending move that extends nothing); with CAP_BPF
a spill does the same for the slot, and ``r1 += c`` / ``r1 -= c`` (64- or 32-bit, ``c`` a
32-bit constant) keeps ``r1`` linked with a constant ``delta`` (``BPF_ADD_CONST``; a second
one breaks the link).  Any other write that changes the value drops the id (a byte-order
op that changes nothing, ``le64`` here, keeps it: measured).  An
undecided conditional jump that narrows a linked register narrows every register linked
with it on the same side (``sync_linked_regs``, at most ``LINKED_REGS_MAX`` of them), and
precision backtracking treats the set as one.  States are equal only when their linked
scalars pair up (``check_scalar_ids``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from structops.verifier.scalar import alu_range
from structops.verifier.state import Frame, Reg, RegType, State, const

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["ADD_CONST", "alu_result", "before_mov", "collect", "mov_result", "sync", "with_id"]

ADD_CONST64 = 1 << 31
ADD_CONST32 = 1 << 30
ADD_CONST = ADD_CONST64 | ADD_CONST32
#: ``LINKED_REGS_MAX``: registers a jump can keep in sync; the rest lose their id.
LINKED_REGS_MAX = 6
_U32 = (1 << 32) - 1
_S32_MIN = -(1 << 31)

#: A linked location: ``(frame, is_reg, register or stack slot)``.
Loc = tuple[int, bool, int]


def with_id(r: Reg, rid: int, delta: int = 0) -> Reg:
    """``r`` with id ``rid`` and ``delta``."""
    return r if r.id == rid and r.delta == delta else replace(r, id=rid, delta=delta)


def before_mov(v: Verifier, regs: list[Reg], s: int) -> Reg:
    """``assign_scalar_id_before_mov`` on ``regs[s]``: a copy made from it shares its id."""
    src = regs[s]
    if src.type != RegType.SCALAR:
        return src
    if src.id & ADD_CONST:  # a copy of rX += c: the copies cannot also carry the delta
        src = replace(src, id=0, delta=0)
    if not src.id and not src.is_const:
        src = replace(src, id=v.new_id())
    regs[s] = src
    return src


def mov_result(v: Verifier, regs: list[Reg], s: int, res: Reg, bits: int, off: int) -> Reg:
    """The id of ``dst = src`` (``res`` its value): shared when the copy keeps the value."""
    src = regs[s]
    if src.type != RegType.SCALAR or res.type != RegType.SCALAR:
        return res
    if off:  # movsx: linked only when nothing is sign-extended
        keep = src.umax < 1 << (off - 1)
    else:
        keep = bits == 64 or src.umax <= _U32  # w1 = w2: only a value that fits in 32 bits
    if not keep:
        return with_id(res, 0)
    src = before_mov(v, regs, s)
    return with_id(res, src.id, src.delta)


def alu_result(v: Verifier, op: int, dst: Reg, src: Reg, res: Reg, bits: int) -> Reg:
    """``adjust_reg_min_max_vals``' id of ``dst op= src`` (``res`` its value): ``+=``/``-=``
    a constant keeps a linked register linked with a delta (CAP_BPF only), else no id."""
    if res.type != RegType.SCALAR:
        return res
    alu32 = bits == 32
    if not (v.env.bpf_capable and op in (0x00, 0x10) and dst.id and src.type == RegType.SCALAR):
        return with_id(res, 0)
    if alu32:
        if src.tm & _U32:
            return with_id(res, 0)
        val = src.tv & _U32
        off = val - (1 << 32) if val >> 31 else val
        if dst.umax > _U32:
            return with_id(res, 0)
    else:
        if not src.is_const:
            return with_id(res, 0)
        val = src.umin
        sval = val - (1 << 64) if val >> 63 else val
        if not _S32_MIN <= sval < 1 << 31:
            return with_id(res, 0)
        off = sval
    if op == 0x10:
        if off == _S32_MIN:
            return with_id(res, 0)
        off = -off
    if dst.id & ADD_CONST:  # a second += cannot be folded into the delta
        return with_id(res, 0)
    return with_id(res, dst.id | (ADD_CONST32 if alu32 else ADD_CONST64), off)


def before_spill(v: Verifier, st: State, d: int, off: int, size: int, s: int) -> Reg:
    """A scalar ``R<s>`` spilled by CAP_BPF to an 8-byte aligned stack slot through
    ``R<d>`` (``check_stack_write_fixed_off``): when its value fits in the store, the slot
    and the register share an id."""
    regs = st.cur.regs
    src, base = regs[s], regs[d]
    if (
        src.type == RegType.SCALAR
        and v.env.bpf_capable
        and base.type == RegType.PTR_TO_STACK
        and not base.var_off
        and (base.off + off) % 8 == 0
        and src.umax.bit_length() <= 8 * size
    ):
        return before_mov(v, regs, s)
    return src


def _slot(f: Frame, k: int) -> Reg | None:
    x = f.stack.get(k)
    return x if isinstance(x, Reg) else None


def collect(st: State, rid: int, out: list[Loc]) -> None:
    """``collect_linked_regs``: the scalars of ``st`` (registers, then spilled slots, innermost
    frame first) linked with ``rid``; past ``LINKED_REGS_MAX`` they lose their id."""
    base = rid & ~ADD_CONST
    for fr in range(len(st.frames) - 1, -1, -1):
        f = st.frames[fr]
        for i in range(10):
            r = f.regs[i]
            if r.type == RegType.SCALAR and r.id & ~ADD_CONST == base and (fr, True, i) not in out:
                if len(out) < LINKED_REGS_MAX:
                    out.append((fr, True, i))
                else:
                    f.regs[i] = with_id(r, 0)
        for k in sorted(f.stack):
            x = _slot(f, k)
            if x is not None and x.type == RegType.SCALAR and x.id & ~ADD_CONST == base and (fr, False, k) not in out:
                if len(out) < LINKED_REGS_MAX:
                    out.append((fr, False, k))
                else:
                    f.stack[k] = with_id(x, 0)


def sync(st: State, known_at: Loc, linked: list[Loc]) -> None:
    """``sync_linked_regs``: every scalar of ``linked`` with the id of the one at
    ``known_at`` takes its value (moved by the difference of their deltas)."""
    fr0, _, i0 = known_at
    known = st.frames[fr0].regs[i0]
    base = known.id & ~ADD_CONST
    for loc in linked:
        if loc == known_at:
            continue
        fr, is_reg, k = loc
        f = st.frames[fr]
        reg = f.regs[k] if is_reg else _slot(f, k)
        if reg is None or reg.type != RegType.SCALAR or reg.id & ~ADD_CONST != base:
            continue
        if (not reg.id & ADD_CONST and not known.id & ADD_CONST) or reg.delta == known.delta:
            new = known
        else:
            bits = 32 if known.id & ADD_CONST32 else 64  # a 32-bit delta: zero-extended
            new = with_id(alu_range(0x00, known, const(reg.delta - known.delta), bits), reg.id, reg.delta)
            new = replace(new, precise=known.precise) if new.precise != known.precise else new
        if is_reg:
            f.regs[k] = new
        else:
            f.stack[k] = replace(new, spill=reg.spill) if new.spill != reg.spill else new


def jump(st: State, pc: int, d: int, s: int) -> list[Loc] | None:
    """Before an undecided jump comparing ``R<d>`` (and ``R<s>``, -1 for an immediate):
    the scalars linked with either; the set goes into the path's history (precision
    backtracking marks it as one) when it has more than one member."""
    regs = st.cur.regs
    out: list[Loc] = []
    if s >= 0 and regs[s].type == RegType.SCALAR and regs[s].id:
        collect(st, regs[s].id, out)
    if regs[d].type == RegType.SCALAR and regs[d].id:
        collect(st, regs[d].id, out)
    if len(out) > 1:
        flags = locs_mask(out)
        h = st.hist
        if h is not None and h[0] == pc:  # this visit's arrival entry
            st.hist = (pc, h[1], flags, h[3], h[4])
        else:
            st.hist = (pc, pc - 1, flags, h, h[4] + 1 if h is not None else 1)
    return out or None


def after_jump(st: State, d: int, s: int, a: Reg, b: Reg | None, links: list[Loc] | None) -> None:
    """One side of the jump after ``reg_set_min_max``: the narrowed registers keep their ids
    (``a`` / ``b`` before the jump), then their linked scalars follow (src first)."""
    f = st.cur
    regs = f.regs
    regs[d] = with_id(regs[d], a.id, a.delta)
    if b is not None and s >= 0:
        regs[s] = with_id(regs[s], b.id, b.delta) if s != d else regs[d]
    if not links:
        return
    fr = len(st.frames) - 1
    if b is not None and s >= 0 and b.type == RegType.SCALAR and b.id:
        sync(st, (fr, True, s), links)
    if a.type == RegType.SCALAR and a.id:
        sync(st, (fr, True, d), links)


def bt_sync(flags: int, regs: list[int], slots: list[int]) -> None:
    """``bt_sync_linked_regs``: when one scalar of the linked set recorded at a jump is
    wanted precise, all of them are (``regs``/``slots``: the wanted masks per frame)."""
    members = []
    m = flags >> 1
    pos = 0
    while m:
        if m & 1:
            members.append(pos)
        m >>= 1
        pos += 1
    want = False
    for p in members:
        fr, k, is_reg = (p // 16, p % 16, True) if p < 199 else ((p - 199) // 64, (p - 199) % 64, False)
        masks = regs if is_reg else slots
        if fr < len(masks) and masks[fr] >> k & 1:
            want = True
            break
    if not want:
        return
    for p in members:
        fr, k, is_reg = (p // 16, p % 16, True) if p < 199 else ((p - 199) // 64, (p - 199) % 64, False)
        masks = regs if is_reg else slots
        if fr < len(masks):
            masks[fr] |= 1 << k


def locs_mask(linked: list[Loc]) -> int:
    """The linked set as history flags for precision backtracking (bit per frame register,
    then per frame stack slot); bit 0 set marks the encoding."""
    m = 1
    for fr, is_reg, k in linked:
        m |= 1 << (1 + fr * 16 + k) if is_reg else 1 << (200 + fr * 64 + k)
    return m
