"""The verifier's scalar domain: five ranges and known bits, synchronised as Linux 6.18 does.

A scalar :class:`~structops.verifier.state.Reg` carries the kernel's ``bpf_reg_state``
facts: ``[umin, umax]`` and ``[smin, smax]`` of the 64-bit value, ``[umin32, umax32]`` and
``[smin32, smax32]`` of its low 32 bits, and a tnum (``tv``/``tm``,
:mod:`structops.verifier.tnum`).  :func:`sync` is ``reg_bounds_sync``: bounds from the
known bits (``__update_reg_bounds``), three rounds of ``__reg_deduce_bounds`` (32-bit
from 64-bit and signed from unsigned, both ways, then the mixed 32 -> 64 deductions),
known bits from the ranges (``__reg_bound_offset``), bounds again; a contradiction
(an infeasible branch) leaves unbounded ranges as ``reg_bounds_sanity_check`` does.  The
casts (zero extension, ``coerce_reg_to_size``, movsx, byte swaps) and the log spelling
(``print_scalar_ranges``) are here; the ALU ops are in :mod:`structops.verifier.arith`,
the branches in :mod:`structops.verifier.refine`.  Facts checked against this machine's kernel by the
corpus in ``tests/corpus/verifier`` (issue 12 item 2).
"""

from __future__ import annotations

from structops.verifier.state import Reg, RegType, const
from structops.verifier.tnum import (
    UNKNOWN,
    Tnum,
    tintersect,
    tor,
    trange,
    tstep,
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
    umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm = _update_bounds(
        umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm
    )
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
    umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm = _update_bounds(
        umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm
    )
    reg = Reg(RegType.SCALAR, umin, umax, smin=smin, smax=smax, tv=tv, tm=tm)
    reg.smin32, reg.smax32, reg.umin32, reg.umax32 = s32min, s32max, u32min, u32max
    return reg


def _update_bounds(
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
) -> tuple[int, int, int, int, int, int, int, int, int, int]:
    """``__update_reg_bounds``: every range narrowed to what the known bits allow; a range
    and tnum that share a single value become that constant."""
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
    return umin, umax, smin, smax, u32min, u32max, s32min, s32max, tv, tm


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
#: ``u32min, u32max, s32min, s32max, tv, tm`` of a 32-bit result.
_R32 = tuple[int, int, int, int, int, int]


def _upd32(u32min: int, u32max: int, s32min: int, s32max: int, tv: int, tm: int) -> _R32:
    """``__update_reg32_bounds`` (what a 32-bit shift does before the zero extension)."""
    v32, m32 = tv & U32, tm & U32
    s32min = max(s32min, _s32(v32 | (m32 & 0x80000000)))
    s32max = min(s32max, _s32(v32 | (m32 & S32_MAX)))
    return max(u32min, v32), min(u32max, v32 | m32), s32min, s32max, tv, tm


def _zext_raw(u32min: int, u32max: int, s32min: int, s32max: int, tv: int, tm: int) -> Reg:
    smin, smax = (s32min, s32max) if s32min >= 0 else (0, U32)
    return sync(u32min, u32max, smin, smax, u32min, u32max, s32min, s32max, tv & U32, tm & U32)


def alu(op: int, a: Reg, b: Reg, bits: int) -> Reg:
    """``a op b`` on scalars (``adjust_scalar_min_max_vals``, :mod:`.arith`)."""
    from structops.verifier import arith

    return arith.alu(op, a, b, bits)


def branch(op: int, a: Reg, b: Reg, bits: int, taken: bool) -> Reg:
    """``a`` on the ``taken`` (or fall-through) side of ``a op b`` (:mod:`.refine`)."""
    from structops.verifier import refine

    return refine.refine_pair(op if taken else refine.REV[op], a, b, bits)[0]


def outcome(op: int, a: Reg, b: Reg, bits: int) -> bool | None:
    """``is_scalar_branch_taken`` (:mod:`.refine`)."""
    from structops.verifier import refine

    return refine.outcome(op, a, b, bits)
