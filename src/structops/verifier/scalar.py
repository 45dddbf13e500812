"""Scalar range arithmetic and branch refinement (``adjust_scalar_min_max_vals``, simplified).

Scalars are unsigned 64-bit ranges ``[umin, umax]``; a constant is a range of one
value and is computed exactly with the VM's semantics (:mod:`structops.vm.alu`).  Other
results are sound over-approximations (the unknown range when in doubt).  Branches on
ranges decide which side of a conditional jump is feasible and narrow the compared
register on each side (``reg_set_min_max``), which is what lets bounded loops converge.
"""

from __future__ import annotations

from structops.verifier.state import Reg, RegType, const, unknown
from structops.vm.alu import bswap, sdiv, sext, smod, to_signed

__all__ = ["alu_const", "alu_range", "branch_outcome", "refine"]

M32 = (1 << 32) - 1
S64_MAX = (1 << 63) - 1


def alu_const(op: int, a: int, b: int, bits: int, off: int = 0) -> int:
    """Exact ``a op b`` on ``bits``-wide operands (zero-extended result), as the VM computes it."""
    mask = (1 << bits) - 1
    a &= mask
    b &= mask
    if op == 0x00:
        r = a + b
    elif op == 0x10:
        r = a - b
    elif op == 0x20:
        r = a * b
    elif op == 0x30:
        r = (sdiv(a, b, bits) if off == 1 else (a // b if b else 0)) if b else 0
    elif op == 0x40:
        r = a | b
    elif op == 0x50:
        r = a & b
    elif op == 0x60:
        r = a << (b & (bits - 1))
    elif op == 0x70:
        r = a >> (b & (bits - 1))
    elif op == 0x90:
        r = (smod(a, b, bits) if off == 1 else a % b) if b else a
    elif op == 0xA0:
        r = a ^ b
    elif op == 0xB0:
        r = sext(b, off, bits) if off else b
    elif op == 0xC0:
        r = to_signed(a, bits) >> (b & (bits - 1))
    elif op == 0x80:
        r = -a
    else:
        raise ValueError(f"alu op {op:#x}")
    return r & mask


def _fits(x: int, bits: int) -> bool:
    return 0 <= x < (1 << bits)


def _pow2_mask(x: int) -> int:
    return (1 << x.bit_length()) - 1


def alu_range(op: int, a: Reg, b: Reg, bits: int, off: int = 0) -> Reg:
    """``a op b`` for scalars: exact for constants, else a sound range."""
    mask = (1 << bits) - 1
    if (a.is_const or op == 0xB0) and b.is_const:
        return const(alu_const(op, a.umin, b.umin, bits, off))
    if op == 0xB0:  # mov
        if off:
            return unknown(0, mask)
        if bits == 64:
            return b
        return b if b.umax <= M32 else unknown(0, M32)
    full = unknown(0, mask)
    amin, amax = a.umin, a.umax
    bmin, bmax = b.umin, b.umax
    if bits == 32 and not (amax <= M32 and bmax <= M32):
        if op in (0x50,) and b.is_const and b.umin <= M32:
            return unknown(0, b.umin)
        return full
    if op == 0x00:
        hi = amax + bmax
        return unknown(amin + bmin, hi) if _fits(hi, bits) else full
    if op == 0x10:
        if amin >= bmax:
            return unknown(amin - bmax, amax - bmin)
        return full
    if op == 0x20:
        hi = amax * bmax
        return unknown(amin * bmin, hi) if _fits(hi, bits) else full
    if op == 0x30 and off == 0:
        if bmin > 0:
            return unknown(amin // bmax, amax // bmin)
        return unknown(0, amax)
    if op == 0x90 and off == 0:
        if bmin > 0:
            return unknown(0, min(amax, bmax - 1))
        return unknown(0, amax)
    if op == 0x50:
        return unknown(0, min(amax, bmax))
    if op in (0x40, 0xA0):
        lo = max(amin, bmin) if op == 0x40 else 0
        return unknown(lo, _pow2_mask(max(amax, bmax)))
    if op == 0x70 and b.is_const:
        k = b.umin & (bits - 1)
        return unknown(amin >> k, amax >> k)
    if op == 0x70:
        return unknown(0, amax)
    if op == 0x60 and b.is_const:
        k = b.umin & (bits - 1)
        return unknown(amin << k, amax << k) if _fits(amax << k, bits) else full
    return full


def unary(op: int, a: Reg, bits: int, imm: int, mode: str) -> Reg:
    """``neg`` or the byte-order ops (``mode`` ``le`` / ``be`` / ``bswap``) on a scalar."""
    if op == 0x80:
        return const(alu_const(0x80, a.umin, 0, bits)) if a.is_const else unknown(0, (1 << bits) - 1)
    width = imm if imm in (16, 32, 64) else 64
    if a.is_const:
        v = a.umin & ((1 << width) - 1)
        return const(v if mode == "le" else bswap(v, width))
    return unknown(0, (1 << width) - 1)


def _cmp(op: int, a: int, b: int, bits: int) -> bool:
    if op in (0x60, 0x70, 0xC0, 0xD0):
        a, b = to_signed(a, bits), to_signed(b, bits)
    if op == 0x10:
        return a == b
    if op == 0x50:
        return a != b
    if op in (0x20, 0x60):
        return a > b
    if op in (0x30, 0x70):
        return a >= b
    if op in (0xA0, 0xC0):
        return a < b
    if op in (0xB0, 0xD0):
        return a <= b
    if op == 0x40:
        return bool(a & b)
    raise ValueError(f"jmp op {op:#x}")


def _as_unsigned_op(op: int, a: Reg, b: Reg, bits: int) -> int | None:
    """Map signed comparisons to unsigned ones when both ranges are non-negative."""
    smax = (1 << (bits - 1)) - 1
    if op in (0x60, 0x70, 0xC0, 0xD0):
        if a.umax <= smax and b.umax <= smax:
            return {0x60: 0x20, 0x70: 0x30, 0xC0: 0xA0, 0xD0: 0xB0}[op]
        return None
    return op


def _narrow(r: Reg, bits: int) -> Reg | None:
    """The register's range on ``bits`` when its value is known to fit there."""
    if bits == 64:
        return r
    if r.umax <= M32:
        return r
    return None


def branch_outcome(op: int, a: Reg, b: Reg, bits: int) -> bool | None:
    """Whether ``a op b`` is always true / always false, or ``None`` when both are possible."""
    a32, b32 = _narrow(a, bits), _narrow(b, bits)
    if a.is_const and b.is_const:
        return _cmp(op, a.umin, b.umin, bits)
    if a32 is None or b32 is None:
        return None
    uop = _as_unsigned_op(op, a32, b32, bits)
    if uop is None:
        return None
    amin, amax, bmin, bmax = a32.umin, a32.umax, b32.umin, b32.umax
    if uop == 0x10:
        if amax < bmin or amin > bmax:
            return False
        return None
    if uop == 0x50:
        if amax < bmin or amin > bmax:
            return True
        return None
    if uop == 0x20:
        return True if amin > bmax else False if amax <= bmin else None
    if uop == 0x30:
        return True if amin >= bmax else False if amax < bmin else None
    if uop == 0xA0:
        return True if amax < bmin else False if amin >= bmax else None
    if uop == 0xB0:
        return True if amax <= bmin else False if amin > bmax else None
    if uop == 0x40 and b.is_const:
        low_bit = b.umin & -b.umin
        if b.umin == 0 or amax < low_bit:
            return False
    return None


_NEGATE = {0x10: 0x50, 0x50: 0x10, 0x20: 0xB0, 0xB0: 0x20, 0x30: 0xA0, 0xA0: 0x30}


def refine(op: int, a: Reg, b: Reg, bits: int, taken: bool) -> Reg:
    """Narrow ``a`` given that ``a op b`` is ``taken`` (only by a constant ``b``, unsigned-comparable)."""
    if a.type != RegType.SCALAR or not b.is_const or _narrow(a, bits) is None:
        return a
    uop = _as_unsigned_op(op, a, b, bits)
    if uop is None or uop == 0x40:
        return a
    if not taken:
        neg = _NEGATE.get(uop)
        if neg is None:
            return a
        uop = neg
    v = b.umin & ((1 << bits) - 1)
    lo, hi = a.umin, a.umax
    if uop == 0x10:
        lo, hi = v, v
    elif uop == 0x50:
        if lo == v:
            lo += 1
        elif hi == v:
            hi -= 1
    elif uop == 0x20:
        lo = max(lo, v + 1)
    elif uop == 0x30:
        lo = max(lo, v)
    elif uop == 0xA0:
        hi = min(hi, v - 1)
    elif uop == 0xB0:
        hi = min(hi, v)
    if lo > hi:
        return a
    return Reg(RegType.SCALAR, lo, hi)


def swap_op(op: int) -> int:
    """The comparison with operands swapped (``a < b`` is ``b > a``)."""
    return {0x20: 0xA0, 0xA0: 0x20, 0x30: 0xB0, 0xB0: 0x30, 0x60: 0xC0, 0xC0: 0x60, 0x70: 0xD0, 0xD0: 0x70}.get(op, op)


__all__ += ["swap_op", "unary", "S64_MAX"]
