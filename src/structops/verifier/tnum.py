"""Tristate numbers: the verifier's known-bits domain (the kernel's ``struct tnum``).

A tnum ``(value, mask)`` stands for every 64-bit ``x`` with ``x & ~mask == value``: bits
set in ``mask`` are unknown, the others equal ``value``'s (``value & mask == 0``).  The
operations are the sound transfer functions the kernel's ``kernel/bpf/tnum.c`` defines
(add, sub, and, or, xor, mul, shifts, intersect, casts); the bounds module keeps them in
sync with the four ranges (issue 12 item 3).
"""

from __future__ import annotations

__all__ = [
    "UNKNOWN",
    "Tnum",
    "tadd",
    "tand",
    "tarshift",
    "tcast",
    "tconst",
    "tcontains",
    "tintersect",
    "tlshift",
    "tmul",
    "tor",
    "trange",
    "trshift",
    "tstep",
    "tsub",
    "txor",
]

_M64 = (1 << 64) - 1

#: ``(value, mask)``
Tnum = tuple[int, int]

UNKNOWN: Tnum = (0, _M64)


def tconst(v: int) -> Tnum:
    """The tnum of one value."""
    return (v & _M64, 0)


def trange(lo: int, hi: int) -> Tnum:
    """The tightest tnum holding every value of the unsigned range ``[lo, hi]``."""
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return (lo & ~delta & _M64, delta)


def tcontains(t: Tnum, x: int) -> bool:
    """Whether ``x`` is one of the values ``t`` stands for."""
    return (x & ~t[1] & _M64) == t[0]


def tadd(a: Tnum, b: Tnum) -> Tnum:
    """Sum (carries through unknown bits make them unknown)."""
    sm = (a[1] + b[1]) & _M64
    sv = (a[0] + b[0]) & _M64
    sigma = (sm + sv) & _M64
    chi = sigma ^ sv
    mu = chi | a[1] | b[1]
    return (sv & ~mu & _M64, mu)


def tsub(a: Tnum, b: Tnum) -> Tnum:
    """Difference."""
    dv = (a[0] - b[0]) & _M64
    alpha = (dv + a[1]) & _M64
    beta = (dv - b[1]) & _M64
    chi = alpha ^ beta
    mu = chi | a[1] | b[1]
    return (dv & ~mu & _M64, mu)


def tand(a: Tnum, b: Tnum) -> Tnum:
    """Bitwise and."""
    alpha = a[0] | a[1]
    beta = b[0] | b[1]
    v = a[0] & b[0]
    return (v, alpha & beta & ~v & _M64)


def tor(a: Tnum, b: Tnum) -> Tnum:
    """Bitwise or."""
    v = a[0] | b[0]
    mu = a[1] | b[1]
    return (v, mu & ~v & _M64)


def txor(a: Tnum, b: Tnum) -> Tnum:
    """Bitwise exclusive or."""
    v = a[0] ^ b[0]
    mu = a[1] | b[1]
    return (v & ~mu & _M64, mu)


def tmul(a: Tnum, b: Tnum) -> Tnum:
    """Product: shift-and-add over ``a``'s bits, unknown bits contributing unknown partials."""
    acc_v = (a[0] * b[0]) & _M64
    # the accumulated partials are tnums with value 0: tadd((0, m), (0, x)) is the mask
    # ((m + x) | m | x) alone, so only that mask is kept (adding x == 0 changes nothing)
    acc_m = 0
    av, am = a
    bv, bm = b
    while av or am:
        if av & 1:
            if bm:
                acc_m = ((acc_m + bm) & _M64) | acc_m | bm
        elif am & 1 and bv | bm:
            x = bv | bm
            acc_m = ((acc_m + x) & _M64) | acc_m | x
        av >>= 1
        am >>= 1
        bv = (bv << 1) & _M64
        bm = (bm << 1) & _M64
    return tadd((acc_v, 0), (0, acc_m))


def tlshift(a: Tnum, k: int) -> Tnum:
    """Left shift by a constant."""
    return ((a[0] << k) & _M64, (a[1] << k) & _M64)


def trshift(a: Tnum, k: int) -> Tnum:
    """Logical right shift by a constant."""
    return (a[0] >> k, a[1] >> k)


def tarshift(a: Tnum, k: int, bits: int = 64) -> Tnum:
    """Arithmetic right shift by a constant on a ``bits``-wide value (zero-extended result)."""
    full = (1 << bits) - 1

    def sar(x: int) -> int:
        x &= full
        if x >> (bits - 1):
            x -= 1 << bits
        return (x >> k) & full

    return (sar(a[0]), sar(a[1]))


def tintersect(a: Tnum, b: Tnum) -> Tnum:
    """Values both stand for (meaningful when they overlap)."""
    v = a[0] | b[0]
    mu = a[1] & b[1]
    return (v & ~mu & _M64, mu)


def tcast(a: Tnum, size: int) -> Tnum:
    """Truncate to the low ``size`` bytes (zero extension)."""
    m = (1 << (8 * size)) - 1
    return (a[0] & m, a[1] & m)


def tstep(t: Tnum, z: int) -> int:
    """The smallest member of ``t`` greater than ``z`` (``t``'s largest member when there is
    none, its smallest when ``z`` is below it): how the bounds sync finds a range and known
    bits meeting in a single value."""
    value, mask = t
    tmax = value | mask
    if z >= tmax:
        return tmax
    if z < value:
        return value
    up = value & ~z & ~mask  # known ones where z has a zero
    down = z & ~value & ~mask  # known zeros where z has a one
    if up.bit_length() > down.bit_length():
        # the members agree with z above the highest such one: set it, the rest minimal
        k = up.bit_length() - 1
        return (z >> (k + 1) << (k + 1)) | (1 << k) | (value & ((1 << k) - 1))
    # z is a member or above the members sharing its top: raise the lowest unknown zero
    # bit of z that lies above every known one of z the tnum clears
    cand = mask & ~z & (_M64 << down.bit_length())
    p = cand & -cand
    return (z & ~(2 * p - 1) & _M64) | p | (value & (p - 1))
