"""Scalar arithmetic and branch refinement (``adjust_scalar_min_max_vals``, ``reg_set_min_max``).

A constant is computed exactly with the VM's semantics (:mod:`structops.vm.alu`) except
where Linux 6.18 gives up (div/mod, a shift by an out-of-range register); other results
go through the kernel's domain in :mod:`structops.verifier.bounds` (u64, s64, u32 and s32
ranges plus known bits).  Branches (:mod:`structops.verifier.refine`) decide which side
of a conditional jump is feasible and narrow the compared registers on each side, which
is what lets bounded loops converge.
"""

from __future__ import annotations

from structops.verifier import arith, bounds
from structops.verifier import refine as refine_mod
from structops.verifier.state import Reg, const, unknown
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
    """``a op b`` for scalars: exact for constants, else the kernel's domain (:mod:`.bounds`)."""
    if op in (0x30, 0x90):
        # Linux 6.18 marks a div/mod result unknown (constants too) before the 32-bit zero
        # extension: a div32/mod32 result is an unknown 64-bit scalar (corpus sk_alu_mod32_imm)
        return unknown()
    if (a.is_const or op == 0xB0) and b.is_const:
        if op in (0x60, 0x70, 0xC0) and b.umin >= bits:  # is_safe_to_compute_dst_reg_range
            return unknown()
        return const(alu_const(op, a.umin, b.umin, bits, off))
    if op == 0xB0:  # mov
        if off:  # movsx: a value already in the narrow signed range is kept, else that range
            return bounds.sign_extend(b, off, bits)
        return b if bits == 64 else bounds.project32(b)
    return arith.alu(op, a, b, bits)


def unary(op: int, a: Reg, bits: int, imm: int, mode: str) -> Reg:
    """``neg`` or the byte-order ops (``mode`` ``le`` / ``be`` / ``bswap``) on a scalar."""
    if op == 0x80:
        return const(alu_const(0x80, a.umin, 0, bits)) if a.is_const else arith.alu(0x80, a, const(0), bits)
    width = imm if imm in (16, 32, 64) else 64
    if a.is_const:
        v = a.umin & ((1 << width) - 1)
        return const(v if mode == "le" else bswap(v, width))
    if mode == "le":  # a truncation on little-endian: a value that fits keeps its bounds
        return a if a.umax < (1 << width) else bounds.truncate(a, width)
    return bounds.byte_swap(a, width)


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
    if a.is_const and b.is_const:
        return _cmp(op, a.umin & ((1 << bits) - 1), b.umin & ((1 << bits) - 1), bits)
    return refine_mod.outcome(op, a, b, bits)


def refine(op: int, a: Reg, b: Reg, bits: int, taken: bool) -> Reg:
    """Narrow ``a`` given that ``a op b`` is ``taken`` (``reg_set_min_max``, :mod:`.refine`)."""
    return refine_mod.refine_pair(op if taken else refine_mod.REV[op], a, b, bits, need_b=False)[0]


def swap_op(op: int) -> int:
    """The comparison with operands swapped (``a < b`` is ``b > a``)."""
    return {0x20: 0xA0, 0xA0: 0x20, 0x30: 0xB0, 0xB0: 0x30, 0x60: 0xC0, 0xC0: 0x60, 0x70: 0xD0, 0xD0: 0x70}.get(op, op)


__all__ += ["swap_op", "unary", "S64_MAX"]
