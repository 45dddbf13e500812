"""Arithmetic, comparison and atomic semantics of the eBPF ISA (RFC 9669 4.1-4.3, 5.3).

Registers are held as unsigned 64-bit Python ints.  These functions define the runtime
behaviour both executors share for the less common operations, following the kernel
rather than C: ``x / 0 = 0``, ``x % 0 = x`` (32-bit forms zero-extend), ``INT_MIN / -1 =
INT_MIN``, ``INT_MIN % -1 = 0``, shift counts masked to the operand width, signed
division truncating toward zero with the remainder taking the dividend's sign.
"""

from __future__ import annotations

from structops.isa.opcodes import LOAD_ACQ, STORE_REL, AtomicOp
from structops.vm.memory import AddressSpace, Domain

__all__ = [
    "M32",
    "M64",
    "atomic",
    "bswap",
    "sdiv",
    "sext",
    "smod",
    "to_signed",
]

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def to_signed(value: int, bits: int) -> int:
    """Interpret the low ``bits`` of ``value`` as two's complement."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def sext(value: int, from_bits: int, to_bits: int = 64) -> int:
    """Sign-extend the low ``from_bits`` of ``value`` to an unsigned ``to_bits`` value."""
    return to_signed(value, from_bits) & ((1 << to_bits) - 1)


def sdiv(a: int, b: int, bits: int) -> int:
    """Signed division (BPF_SDIV, ``off = 1``) of the low ``bits`` of a and b."""
    sa, sb = to_signed(a, bits), to_signed(b, bits)
    if sb == 0:
        return 0
    q = abs(sa) // abs(sb)
    if (sa < 0) != (sb < 0):
        q = -q
    return q & ((1 << bits) - 1)


def smod(a: int, b: int, bits: int) -> int:
    """Signed modulo (BPF_SMOD, ``off = 1``): sign of the dividend; ``x % 0 = x``."""
    mask = (1 << bits) - 1
    sa, sb = to_signed(a, bits), to_signed(b, bits)
    if sb == 0:
        return a & mask
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & mask


def bswap(value: int, bits: int) -> int:
    """Reverse the byte order of the low ``bits`` of ``value`` (result zero-extended)."""
    n = bits // 8
    return int.from_bytes((value & ((1 << bits) - 1)).to_bytes(n, "little"), "big")


def atomic(space: AddressSpace | Domain, size: int, imm: int, addr: int, src: int, r0: int) -> int:
    """Execute one BPF_ATOMIC read-modify-write and return the old memory value.

    ``size`` is 4 or 8; the old value is zero-extended.  The caller stores it where the
    operation puts it: ``src`` for FETCH forms and ``xchg``, ``r0`` for ``cmpxchg``
    (which compares the low ``size`` bytes of ``r0``), nowhere for plain add/or/and/xor.
    The read is checked before anything is written.
    """
    mask = M64 if size == 8 else M32
    old = space.ld[size](addr)
    if imm == AtomicOp.XCHG:
        new = src
    elif imm == AtomicOp.CMPXCHG:
        new = src if old == r0 & mask else old  # a failed cmpxchg still needs a writable target
    else:
        op = imm & ~1
        if op == AtomicOp.ADD:
            new = old + src
        elif op == AtomicOp.OR:
            new = old | src
        elif op == AtomicOp.AND:
            new = old & src
        else:
            new = old ^ src
    space.st[size](addr, new & mask)
    return old


def load_store_ordered(space: AddressSpace | Domain, size: int, imm: int, addr: int, value: int) -> int:
    """Load-acquire (returns the zero-extended value) or store-release (returns 0)."""
    if imm == LOAD_ACQ:
        return space.ld[size](addr)
    if imm == STORE_REL:
        space.st[size](addr, value)
        return 0
    raise ValueError(f"not an ordered access: imm={imm:#x}")
