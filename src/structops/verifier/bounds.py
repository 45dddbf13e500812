"""The verifier's scalar domain: five ranges and known bits, synchronised as Linux 6.18 does.

A scalar :class:`~structops.verifier.state.Reg` carries the kernel's ``bpf_reg_state``
facts: ``[umin, umax]`` and ``[smin, smax]`` of the 64-bit value, ``[umin32, umax32]`` and
``[smin32, smax32]`` of its low 32 bits, and a tnum (``tv``/``tm``,
:mod:`structops.verifier.tnum`).  :func:`sync` is ``reg_bounds_sync``: bounds from the
known bits (``__update_reg_bounds``), three rounds of ``__reg_deduce_bounds`` (32-bit
from 64-bit and signed from unsigned, both ways, then the mixed 32 -> 64 deductions),
known bits from the ranges (``__reg_bound_offset``), bounds again.  The ALU transfer
functions are ``adjust_scalar_min_max_vals``' ``scalar32_min_max_*`` / ``scalar_min_max_*``
pairs with the 32-bit zero extension (``zext_32_to_64``), including the kernel's
imprecision: div/mod and shifts by a non-constant leave the whole 64-bit register
unknown, even for ALU32 (Linux 6.18 rejects ``map_value + (x % 10)``).  Branches are in
:mod:`structops.verifier.refine`.  Facts checked against this machine's kernel by the
corpus in ``tests/corpus/verifier`` (issue 12 item 2).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from structops.verifier.state import Reg, RegType, const
from structops.verifier.tnum import (
    UNKNOWN,
    Tnum,
    tadd,
    tand,
    tarshift,
    tintersect,
    tlshift,
    tmul,
    tor,
    trange,
    trshift,
    tstep,
    tsub,
    txor,
)

__all__ = [
    "alu",
    "branch",
    "byte_swap",
    "fmt_scalar",
    "make_scalar",
    "outcome",
    "project32",
    "s32_range",
    "sign_extend",
    "sync",
    "truncate",
]

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
HI32 = U64 ^ U32
S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1
_SIGN64 = 1 << 63


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def sync(
    umin: int,
    umax: int,
    smin: int,
    smax: int,
    u32min: int,
    u32max: int,
    s32min: int,
    s32max: int,
    tv: int,
    tm: int,
) -> Reg:
    """``reg_bounds_sync`` of the given facts, then ``reg_bounds_sanity_check``: a state
    whose ranges contradict (an infeasible branch the kernel did not predict) keeps its
    known bits but gets unbounded ranges, as the kernel does when not testing invariants."""
    if not tm:  # known bits: the constant, unless a range excludes it (then insane)
        low = tv & U32
        s64v = tv - (1 << 64) if tv >> 63 else tv
        s32v = low - (1 << 32) if low >> 31 else low
        if umin <= tv <= umax and smin <= s64v <= smax and u32min <= low <= u32max and s32min <= s32v <= s32max:
            return const(tv)
    key = (umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm)
    reg = _MEMO.get(key)
    if reg is None:  # Regs are immutable: a result is shared by every equal input (hot path)
        reg = _sync(umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm)
        if not _sane(reg):
            reg = Reg(RegType.SCALAR, tv=reg.tv, tm=reg.tm)
        if len(_MEMO) >= 1 << 16:
            _MEMO.clear()
        _MEMO[key] = reg
    return reg


_MEMO: dict[tuple[int, ...], Reg] = {}


def _sync(
    umin: int,
    umax: int,
    smin: int,
    smax: int,
    u32min: int,
    u32max: int,
    s32min: int,
    s32max: int,
    tv: int,
    tm: int,
) -> Reg:
    # __update_reg32_bounds / __update_reg64_bounds
    v32, m32 = tv & U32, tm & U32
    x = _s32(v32 | (m32 & 0x80000000))
    if x > s32min:
        s32min = x
    x = _s32(v32 | (m32 & S32_MAX))
    if x < s32max:
        s32max = x
    if v32 > u32min:
        u32min = v32
    x = v32 | m32
    if x < u32max:
        u32max = x
    x = _s64(tv | (tm & _SIGN64))
    if x > smin:
        smin = x
    x = _s64(tv | (tm & S64_MAX))
    if x < smax:
        smax = x
    if tv > umin:
        umin = tv
    x = tv | tm
    if x < umax:
        umax = x
    if tm:
        one = _single(umin, umax, tv, tm)
        if one is not None:
            tv, tm, umin, umax, smin, smax = one, 0, one, one, _s64(one), _s64(one)
            u32min = u32max = one & U32
            s32min = s32max = _s32(one)
    for _ in range(3):  # __reg_deduce_bounds, three times (a round that changes nothing ends it)
        before = (umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm)
        # __reg32_deduce_bounds
        if umin >> 32 == umax >> 32:
            x = umin & U32
            if x > u32min:
                u32min = x
            x = umax & U32
            if x < u32max:
                u32max = x
            lo, hi = _s32(umin), _s32(umax)
            if lo <= hi:
                if lo > s32min:
                    s32min = lo
                if hi < s32max:
                    s32max = hi
        if smin >> 32 == smax >> 32:
            lo, hi = smin & U32, smax & U32
            if lo <= hi:
                if lo > u32min:
                    u32min = lo
                if hi < u32max:
                    u32max = hi
            lo, hi = _s32(smin), _s32(smax)
            if lo <= hi:
                if lo > s32min:
                    s32min = lo
                if hi < s32max:
                    s32max = hi
        if ((umin >> 32) + 1) & U32 == (umax >> 32) & U32:
            lo, hi = _s32(umin), _s32(umax)
            if lo < 0 <= hi:
                if lo > s32min:
                    s32min = lo
                if hi < s32max:
                    s32max = hi
        if ((smin >> 32) + 1) & U32 == (smax >> 32) & U32:
            lo, hi = _s32(smin), _s32(smax)
            if lo < 0 <= hi:
                if lo > s32min:
                    s32min = lo
                if hi < s32max:
                    s32max = hi
        lo, hi = _s32(u32min), _s32(u32max)
        if lo <= hi:
            if lo > s32min:
                s32min = lo
            if hi < s32max:
                s32max = hi
        lo, hi = s32min & U32, s32max & U32
        if lo <= hi:
            if lo > u32min:
                u32min = lo
            if hi < u32max:
                u32max = hi
        elif u32max < lo:  # s32 crosses the sign boundary; u32 meets only its positive part
            s32min = _s32(u32min)
            if hi < u32max:
                u32max = hi
        elif hi < u32min:  # ... or only its negative part
            s32max = _s32(u32max)
            if lo > u32min:
                u32min = lo
        # __reg64_deduce_bounds
        lo, hi = _s64(umin), _s64(umax)
        if lo <= hi:
            if lo > smin:
                smin = lo
            if hi < smax:
                smax = hi
        lo, hi = smin & U64, smax & U64
        if lo <= hi:
            if lo > umin:
                umin = lo
            if hi < umax:
                umax = hi
        elif umax < lo:  # s64 crosses the sign boundary; u64 meets only its positive part
            smin = _s64(umin)
            if hi < umax:
                umax = hi
        elif hi < umin:  # ... or only its negative part
            smax = _s64(umax)
            if lo > umin:
                umin = lo
        # __reg_deduce_mixed_bounds
        x = (umin & HI32) | u32min
        if x > umin:
            umin = x
        x = (umax & HI32) | u32max
        if x < umax:
            umax = x
        x = _s64((smin & HI32) | u32min)
        if x > smin:
            smin = x
        x = _s64((smax & HI32) | u32max)
        if x < smax:
            smax = x
        lo, hi = s32min & U32, s32max & U32
        if lo <= hi:
            x = (umin & HI32) | lo
            if x > umin:
                umin = x
            x = (umax & HI32) | hi
            if x < umax:
                umax = x
            x = _s64((smin & HI32) | lo)
            if x > smin:
                smin = x
            x = _s64((smax & HI32) | hi)
            if x < smax:
                smax = x
        if s32min >= 0 and smin >= S32_MIN and smax <= S32_MAX:
            smin = umin = s32min
            smax = umax = s32max
            tv, tm = tintersect((tv, tm), trange(smin, smax))
        if before == (umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm):
            break
    # __reg_bound_offset
    v64, m64 = tintersect((tv, tm), trange(umin, umax))
    v32, m32 = tintersect((v64 & U32, m64 & U32), trange(u32min, u32max))
    tv, tm = tor((v64 & HI32, m64 & HI32), (v32, m32))
    # __update_reg_bounds
    v32, m32 = tv & U32, tm & U32
    x = _s32(v32 | (m32 & 0x80000000))
    if x > s32min:
        s32min = x
    x = _s32(v32 | (m32 & S32_MAX))
    if x < s32max:
        s32max = x
    if v32 > u32min:
        u32min = v32
    x = v32 | m32
    if x < u32max:
        u32max = x
    x = _s64(tv | (tm & _SIGN64))
    if x > smin:
        smin = x
    x = _s64(tv | (tm & S64_MAX))
    if x < smax:
        smax = x
    if tv > umin:
        umin = tv
    x = tv | tm
    if x < umax:
        umax = x
    if tm:
        one = _single(umin, umax, tv, tm)
        if one is not None:
            tv, tm, umin, umax, smin, smax = one, 0, one, one, _s64(one), _s64(one)
            u32min = u32max = one & U32
            s32min = s32max = _s32(one)
    reg = Reg(RegType.SCALAR, umin, umax, smin=smin, smax=smax, tv=tv, tm=tm)
    reg.smin32, reg.smax32, reg.umin32, reg.umax32 = s32min, s32max, u32min, u32max
    return reg


def _single(umin: int, umax: int, tv: int, tm: int) -> int | None:
    """The one value both ``[umin, umax]`` and the known bits allow, when there is only
    one (the end of ``__update_reg64_bounds``: the range meets the tnum at umin, at the
    tnum's largest member, or at one member in between); else None."""
    nxt = tstep((tv, tm), umin)
    if umin & ~tm == tv:
        return umin if nxt > umax else None
    if nxt == tv | tm:
        return nxt
    if nxt <= umax and tstep((tv, tm), nxt) > umax:
        return nxt
    return None


def _sane(r: Reg) -> bool:
    """``reg_bounds_sanity_check``: ordered ranges, constant known bits matching them."""
    if r.umin > r.umax or r.smin > r.smax or r.umin32 > r.umax32 or r.smin32 > r.smax32:
        return False
    if r.tm == 0 and not (r.umin == r.umax == r.tv and r.smin == r.smax == _s64(r.tv)):
        return False
    low = r.tv & U32
    return r.tm & U32 != 0 or (r.umin32 == r.umax32 == low and r.smin32 == r.smax32 == _s32(low))


def make_scalar(
    umin: int = 0,
    umax: int = U64,
    smin: int = S64_MIN,
    smax: int = S64_MAX,
    t: Tnum = UNKNOWN,
    u32: tuple[int, int] = (0, U32),
    s32: tuple[int, int] = (S32_MIN, S32_MAX),
) -> Reg | None:
    """A scalar from its facts after ``reg_bounds_sync``; ``None`` when they contradict."""
    reg = _sync(umin, umax, smin, smax, u32[0], u32[1], s32[0], s32[1], t[0], t[1])
    return reg if _sane(reg) else None


_UNKNOWN64 = Reg(RegType.SCALAR)


def s32_range(r: Reg) -> tuple[int, int]:
    """The signed range of ``r``'s low 32 bits (``s32_min_value``/``s32_max_value``)."""
    return r.smin32, r.smax32


def fmt_scalar(r: Reg) -> str:
    """The kernel log's spelling of a scalar (``print_reg_state`` / ``print_scalar_ranges``):
    a constant as its value, else the ranges that are not trivial, equal ones merged
    (``smin=umin=5``; never a negative with a non-negative), then ``var_off``.  Numbers
    in the 16-bit range print in decimal, others in hex; an s32 bound printed in hex is
    its 32-bit pattern (so it can merge with a 64-bit bound of that value)."""
    if r.tm == 0:
        return _snum(_s64(r.tv))
    s32lo, s32hi = r.smin32, r.smax32
    vals = [
        r.smin & U64,
        r.smax & U64,
        r.umin,
        r.umax,
        s32lo & (U64 if _DEC_S[0] <= s32lo <= _DEC_S[1] else U32),
        s32hi & (U64 if _DEC_S[0] <= s32hi <= _DEC_S[1] else U32),
        r.umin32,
        r.umax32,
    ]
    omit = [r.smin == S64_MIN, r.smax == S64_MAX, r.umin == 0, r.umax == U64]
    omit += [s32lo == S32_MIN, s32hi == S32_MAX, r.umin32 == 0, r.umax32 == U32]
    parts = []
    for i, val in enumerate(vals):
        if omit[i]:
            continue
        signed = _NAMES[i][0] == "s"
        neg = signed and val >> 63
        text = f"{_NAMES[i]}="
        for j in range(i + 2, 8, 2):
            if omit[j] or vals[j] != val or (_NAMES[j][0] == "s" and vals[j] >> 63) != neg:
                continue
            omit[j] = True
            text += f"{_NAMES[j]}="
        parts.append(text + (_snum(_s64(val)) if signed else _unum(val)))
    if (r.tv, r.tm) != UNKNOWN:
        parts.append(f"var_off=({r.tv:#x}; {r.tm:#x})")
    return f"scalar({','.join(parts)})"


_DEC_S = (-(1 << 15), (1 << 15) - 1)
_NAMES = ("smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32")


def _snum(v: int) -> str:
    return str(v) if _DEC_S[0] <= v <= _DEC_S[1] else f"{v & U64:#x}"


def _unum(v: int) -> str:
    return str(v) if v <= 0xFFFF else f"{v:#x}"


# ------------------------------------------------------------------ casts
def _zext(r: Reg) -> Reg:
    """``zext_32_to_64`` then ``reg_bounds_sync``: the 32-bit facts become the 64-bit ones."""
    s32min, s32max = r.smin32, r.smax32
    smin, smax = (s32min, s32max) if s32min >= 0 else (0, U32)
    return sync(r.umin32, r.umax32, smin, smax, r.umin32, r.umax32, s32min, s32max, r.tv & U32, r.tm & U32)


def project32(r: Reg) -> Reg:
    """``w = w``: the low 32 bits of ``r`` zero-extended (``zext_32_to_64`` of a copy)."""
    if r.umax <= U32 and r.smin >= 0:
        return r
    return _zext(r)


def truncate(r: Reg, width: int) -> Reg:
    """``coerce_reg_to_size``: the low ``width`` bits of ``r`` zero-extended (narrow loads, ``le``)."""
    mask = (1 << width) - 1
    umin, umax = r.umin, r.umax
    if umin & ~mask == umax & ~mask:
        umin &= mask
        umax &= mask
    else:
        umin, umax = 0, mask
    if width < 32:
        u32, s32 = (0, U32), (S32_MIN, S32_MAX)
    else:
        u32, s32 = (r.umin32, r.umax32), (r.smin32, r.smax32)
    return sync(umin, umax, umin, umax, u32[0], u32[1], s32[0], s32[1], r.tv & mask, r.tm & mask)


def byte_swap(r: Reg, width: int) -> Reg:
    """``be16``/``be32``/``be64``/``bswap*`` (a swap on this little-endian machine): the known
    bits are swapped with the bytes (upper bits zero), the ranges rebuilt from them alone."""
    mask = (1 << width) - 1
    n = width // 8
    tv = int.from_bytes((r.tv & mask).to_bytes(n, "little"), "big")
    tm = int.from_bytes((r.tm & mask).to_bytes(n, "little"), "big")
    return sync(0, U64, S64_MIN, S64_MAX, 0, U32, S32_MIN, S32_MAX, tv, tm)


def sign_extend(r: Reg, from_bits: int, bits: int) -> Reg:
    """``movsx``: ``coerce_reg_to_size_sx`` (64-bit) or ``coerce_subreg_to_size_sx`` then the
    zero extension (32-bit) of ``r``'s low ``from_bits`` bits."""
    if bits == 64:
        return _sext64(r, from_bits)
    return _sext32(r, from_bits)


def _sx(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _sext64(r: Reg, n: int) -> Reg:
    if r.tm == 0:
        return const(_sx(r.tv, n))
    half = 1 << (n - 1)
    lo, hi = r.smin32, r.smax32
    if -half <= lo and hi < half:
        # the low 32 bits already hold a sign-extended n-bit value: their s32 range is the
        # result's (observed on 6.18: (s16) of s32 [-1, -1] is -1, (s8) of [-4, 3] is [-4, 3])
        if (lo >= 0) != (hi >= 0):  # the u32 range stays too
            return sync(0, U64, lo, hi, r.umin32, r.umax32, lo, hi, 0, U64)
    elif (r.smax & U64) >> n != (r.smin & U64) >> n:
        return _sext64_default(n)
    else:
        a, b = _sx(r.smax, n), _sx(r.smin, n)
        lo, hi = min(a, b), max(a, b)
        if (lo >= 0) != (hi >= 0):
            return _sext64_default(n)
    reg = Reg(RegType.SCALAR, lo & U64, hi & U64, smin=lo, smax=hi)
    reg.tv, reg.tm = trange(lo & U64, hi & U64)
    reg.smin32, reg.smax32, reg.umin32, reg.umax32 = _s32(lo), _s32(hi), lo & U32, hi & U32
    return reg


def _sext64_default(n: int) -> Reg:
    half = 1 << (n - 1)
    reg = Reg(RegType.SCALAR, 0, U64, smin=-half, smax=half - 1)
    reg.smin32, reg.smax32 = -half, half - 1
    return reg


def _sext32(r: Reg, n: int) -> Reg:
    half = 1 << (n - 1)
    if r.tm == 0:
        v = _sx(r.tv, n) & U64
        low = v & U32
        return _zext_raw(low, low, _s32(low), _s32(low), v, 0)
    if (r.smax32 & U32) >> n != (r.smin32 & U32) >> n:
        return _zext_raw(0, U32, -half, half - 1, 0, U32)
    a, b = _sx(r.smax32, n), _sx(r.smin32, n)
    lo, hi = min(a, b), max(a, b)
    if (lo >= 0) != (hi >= 0):
        return _zext_raw(0, U32, -half, half - 1, 0, U32)
    tv, tm = trange(lo & U64, hi & U64)
    return _zext_raw(lo & U32, hi & U32, lo, hi, tv, tm)


_ZERO = Reg(RegType.SCALAR, 0, 0, smin=0, smax=0, tv=0, tm=0, smin32=0, smax32=0, umin32=0, umax32=0)


def _upd32(u32min: int, u32max: int, s32min: int, s32max: int, tv: int, tm: int) -> _R32:
    """``__update_reg32_bounds`` (what a 32-bit shift does before the zero extension)."""
    v32, m32 = tv & U32, tm & U32
    s32min = max(s32min, _s32(v32 | (m32 & 0x80000000)))
    s32max = min(s32max, _s32(v32 | (m32 & S32_MAX)))
    return max(u32min, v32), min(u32max, v32 | m32), s32min, s32max, tv, tm


def _zext_raw(u32min: int, u32max: int, s32min: int, s32max: int, tv: int, tm: int) -> Reg:
    smin, smax = (s32min, s32max) if s32min >= 0 else (0, U32)
    return sync(u32min, u32max, smin, smax, u32min, u32max, s32min, s32max, tv & U32, tm & U32)


# ------------------------------------------------------------------ ALU
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


_R32 = tuple[int, int, int, int, int, int]
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


def branch(op: int, a: Reg, b: Reg, bits: int, taken: bool) -> Reg:
    """``a`` on the ``taken`` (or fall-through) side of ``a op b`` (:mod:`.refine`)."""
    from structops.verifier import refine

    return refine.refine_pair(op if taken else refine.REV[op], a, b, bits)[0]


def outcome(op: int, a: Reg, b: Reg, bits: int) -> bool | None:
    """``is_scalar_branch_taken`` (:mod:`.refine`)."""
    from structops.verifier import refine

    return refine.outcome(op, a, b, bits)
