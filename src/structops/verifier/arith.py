"""ALU transfer functions of the scalar domain (``adjust_scalar_min_max_vals``, Linux 6.18).

Each op is the kernel's ``scalar32_min_max_*`` / ``scalar_min_max_*`` pair: the 32-bit
ranges from the operands' 32-bit ranges, the 64-bit ones from the 64-bit ranges, one tnum
op on the full values; an ALU32 result is then zero-extended (``zext_32_to_64``) and every
result goes through :func:`structops.verifier.bounds.sync` (``reg_bounds_sync``).  Kept
imprecision: add/sub give up on a range that partly wraps (a wholly wrapping one stays
exact), mul on any overflow, shifts by a non-constant or out-of-range amount and div/mod
leave the whole 64-bit register unknown even for ALU32 (issue 12 item 2).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from structops.verifier.bounds import (
    _R32,
    _UNKNOWN64,
    _ZERO,
    S32_MAX,
    S32_MIN,
    S64_MAX,
    S64_MIN,
    U32,
    U64,
    _s32,
    _s64,
    _upd32,
    _zext_raw,
    sync,
)
from structops.verifier.state import Reg
from structops.verifier.tnum import Tnum, tadd, tand, tarshift, tlshift, tmul, tor, trshift, tsub, txor

__all__ = ["alu"]


def _src_const(b: Reg, bits: int) -> bool:
    if bits == 32:
        return b.tm & U32 == 0 and b.smin32 == b.smax32 and b.umin32 == b.umax32
    return b.tm == 0 and b.smin == b.smax and b.umin == b.umax


def alu(op: int, a: Reg, b: Reg, bits: int) -> Reg:
    """``a op b`` on scalars (``adjust_scalar_min_max_vals``); ``op`` is the BPF_OP nibble."""
    shift = op in (0x60, 0x70, 0xC0)
    if shift:
        if not (_src_const(b, bits) and b.umax < bits):
            return _UNKNOWN64  # is_safe_to_compute_dst_reg_range: before the zero extension
    elif op not in (0x00, 0x10, 0x20, 0x40, 0x50, 0x80, 0xA0):
        return _UNKNOWN64  # div, mod: Linux 6.18 leaves the result unknown
    if op == 0x80:  # neg: 0 - a
        a, b, op = _ZERO, a, 0x10
    f32, f64 = _OPS[op]
    if shift:
        if bits == 32:
            return _zext_raw(*f32(a, b))
        return sync(*f64(a, b, 0, U32, S32_MIN, S32_MAX))
    t = _TNUM_OPS[op]((a.tv, a.tm), (b.tv, b.tm))
    if bits == 32:
        return _zext_raw(*f32(a, b, t))
    return sync(*f64(a, b, t, *f32(a, b, t)[:4]))


_R64 = tuple[int, int, int, int, int, int, int, int, int, int]


def _add32(a: Reg, b: Reg, t: Tnum) -> _R32:
    smin, smax = a.smin32 + b.smin32, a.smax32 + b.smax32
    if smin < S32_MIN or smin > S32_MAX or smax < S32_MIN or smax > S32_MAX:
        smin, smax = S32_MIN, S32_MAX
    umin, umax = a.umin32 + b.umin32, a.umax32 + b.umax32
    if umin <= U32 < umax:
        umin, umax = 0, U32
    tv, tm = t
    return umin & U32, umax & U32, smin, smax, tv, tm


def _add64(a: Reg, b: Reg, t: Tnum, u32min: int, u32max: int, s32min: int, s32max: int) -> _R64:
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if smin < S64_MIN or smin > S64_MAX or smax < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umin <= U64 < umax:
        umin, umax = 0, U64
    tv, tm = t
    return umin & U64, umax & U64, smin, smax, u32min, u32max, s32min, s32max, tv, tm


def _sub32(a: Reg, b: Reg, t: Tnum) -> _R32:
    smin, smax = a.smin32 - b.smax32, a.smax32 - b.smin32
    if smin < S32_MIN or smin > S32_MAX or smax < S32_MIN or smax > S32_MAX:
        smin, smax = S32_MIN, S32_MAX
    umin, umax = a.umin32 - b.umax32, a.umax32 - b.umin32
    if umin < 0 <= umax:
        umin, umax = 0, U32
    tv, tm = t
    return umin & U32, umax & U32, smin, smax, tv, tm


def _sub64(a: Reg, b: Reg, t: Tnum, u32min: int, u32max: int, s32min: int, s32max: int) -> _R64:
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if smin < S64_MIN or smin > S64_MAX or smax < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    umin, umax = a.umin - b.umax, a.umax - b.umin
    if umin < 0 <= umax:
        umin, umax = 0, U64
    tv, tm = t
    return umin & U64, umax & U64, smin, smax, u32min, u32max, s32min, s32max, tv, tm


def _mul32(a: Reg, b: Reg, t: Tnum) -> _R32:
    tv, tm = t
    umin, umax = a.umin32 * b.umin32, a.umax32 * b.umax32
    if umax > U32 or umin > U32:
        umin, umax = 0, U32
    prods = (a.smin32 * b.smin32, a.smin32 * b.smax32, a.smax32 * b.smin32, a.smax32 * b.smax32)
    smin, smax = min(prods), max(prods)
    if smin < S32_MIN or smax > S32_MAX:
        smin, smax = S32_MIN, S32_MAX
    return umin, umax, smin, smax, tv, tm


def _mul64(a: Reg, b: Reg, t: Tnum, u32min: int, u32max: int, s32min: int, s32max: int) -> _R64:
    tv, tm = t
    umin, umax = a.umin * b.umin, a.umax * b.umax
    if umax > U64 or umin > U64:
        umin, umax = 0, U64
    prods = (a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax)
    smin, smax = min(prods), max(prods)
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm


def _bit32(op: int, a: Reg, b: Reg, t: Tnum) -> _R32:
    """``scalar32_min_max_and`` / ``or`` / ``xor`` (the result tnum computed first)."""
    tv, tm = t
    v32, m32 = tv & U32, tm & U32
    if a.tm & U32 == 0 and b.tm & U32 == 0:
        return v32, v32, _s32(v32), _s32(v32), tv, tm
    if op == 0x50:
        umin, umax = v32, min(a.umax32, b.umax32)
    elif op == 0x40:
        umin, umax = max(a.umin32, b.umin32), v32 | m32
    else:
        umin, umax = v32, v32 | m32
    lo, hi = _s32(umin), _s32(umax)
    smin, smax = (lo, hi) if lo <= hi else (S32_MIN, S32_MAX)
    return umin, umax, smin, smax, tv, tm


def _bit64(op: int, a: Reg, b: Reg, t: Tnum, u32min: int, u32max: int, s32min: int, s32max: int) -> _R64:
    """``scalar_min_max_and`` / ``or`` / ``xor``, then ``__update_reg_bounds``."""
    tv, tm = t
    if a.tm == 0 and b.tm == 0:
        s = _s64(tv)
        return tv, tv, s, s, tv & U32, tv & U32, _s32(tv), _s32(tv), tv, 0
    if op == 0x50:
        umin, umax = tv, min(a.umax, b.umax)
    elif op == 0x40:
        umin, umax = max(a.umin, b.umin), tv | tm
    else:
        umin, umax = tv, tv | tm
    lo, hi = _s64(umin), _s64(umax)
    smin, smax = (lo, hi) if lo <= hi else (S64_MIN, S64_MAX)
    return umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm


def _lsh32(a: Reg, b: Reg) -> _R32:
    k = b.umin32
    umin, umax = a.umin32, a.umax32
    if umax > 1 << (31 - k):
        umin, umax = 0, U32
    else:
        umin, umax = umin << k, umax << k
    tv, tm = tlshift((a.tv & U32, a.tm & U32), k)
    return _upd32(umin, umax, S32_MIN, S32_MAX, tv & U32, tm & U32)


def _lsh64(a: Reg, b: Reg, *_: int) -> _R64:
    k = b.umin
    # << 32 (the compiler's sign-extension idiom) keeps the s32 range in the upper half
    smin, smax = (a.smin32 << 32, a.smax32 << 32) if k == 32 else (S64_MIN, S64_MAX)
    umin, umax = a.umin, a.umax
    if umax > 1 << (63 - k):
        umin, umax = 0, U64
    else:
        umin, umax = umin << k, umax << k
    u32min, u32max = a.umin32, a.umax32
    if k > 31 or u32max > 1 << (31 - k):
        u32min, u32max = 0, U32
    else:
        u32min, u32max = u32min << k, u32max << k
    tv, tm = tlshift((a.tv, a.tm), k)
    return umin, umax, smin, smax, u32min, u32max, S32_MIN, S32_MAX, tv, tm


def _rsh32(a: Reg, b: Reg) -> _R32:
    k = b.umin32
    tv, tm = trshift((a.tv & U32, a.tm & U32), k)
    return _upd32(a.umin32 >> k, a.umax32 >> k, S32_MIN, S32_MAX, tv, tm)


def _rsh64(a: Reg, b: Reg, *_: int) -> _R64:
    k = b.umin
    tv, tm = trshift((a.tv, a.tm), k)
    return a.umin >> k, a.umax >> k, S64_MIN, S64_MAX, 0, U32, S32_MIN, S32_MAX, tv, tm


def _arsh32(a: Reg, b: Reg) -> _R32:
    k = b.umin32
    tv, tm = tarshift((a.tv & U32, a.tm & U32), k, 32)
    return _upd32(0, U32, a.smin32 >> k, a.smax32 >> k, tv, tm)


def _arsh64(a: Reg, b: Reg, *_: int) -> _R64:
    k = b.umin
    tv, tm = tarshift((a.tv, a.tm), k, 64)
    return 0, U64, a.smin >> k, a.smax >> k, 0, U32, S32_MIN, S32_MAX, tv, tm


_OPS: dict[int, tuple[Callable[..., _R32], Callable[..., _R64]]] = {
    0x00: (_add32, _add64),
    0x10: (_sub32, _sub64),
    0x20: (_mul32, _mul64),
    0x50: (partial(_bit32, 0x50), partial(_bit64, 0x50)),
    0x40: (partial(_bit32, 0x40), partial(_bit64, 0x40)),
    0xA0: (partial(_bit32, 0xA0), partial(_bit64, 0xA0)),
    0x60: (_lsh32, _lsh64),
    0x70: (_rsh32, _rsh64),
    0xC0: (_arsh32, _arsh64),
}
#: The tnum of add / sub / mul / and / or / xor, computed once on the full 64-bit values.
_TNUM_OPS = {0x00: tadd, 0x10: tsub, 0x20: tmul, 0x50: tand, 0x40: tor, 0xA0: txor}
