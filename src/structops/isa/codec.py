"""Binary encoding and decoding of eBPF instructions (RFC 9669 section 3).

:func:`decode` turns bytecode into logical :class:`~structops.isa.insn.Insn` objects (a
``ld_imm64`` becomes one object covering two slots); :func:`encode` is its inverse.
Slot-level helpers map between logical indexes and program counters.
"""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Iterable, Sequence

from structops.isa.insn import Insn, IsaError, check_insn

__all__ = ["INSN_SIZE", "decode", "encode", "encode_insn", "slot_index", "total_slots"]

#: Size of one instruction slot in bytes.
INSN_SIZE = 8
_SLOT = struct.Struct("<BBhi")


def decode(data: bytes | bytearray | memoryview, *, strict: bool = True) -> list[Insn]:
    """Decode ``data`` into logical instructions.

    With ``strict`` (the default), every instruction must be well-formed as
    :func:`~structops.isa.insn.check_insn` defines it, like the kernel verifier requires;
    otherwise only the framing (length, complete ``ld_imm64`` pairs) is checked.
    Raises :class:`IsaError` (a ``ValueError``) naming the slot of the first problem.
    """
    raw = bytes(data)
    if len(raw) % INSN_SIZE:
        raise IsaError(f"bytecode length {len(raw)} is not a multiple of {INSN_SIZE}")
    fast = _decode_shared(raw, strict)
    if fast is not None:
        return fast
    count = len(raw) // INSN_SIZE
    out: list[Insn] = []
    pc = 0
    while pc < count:
        opcode, regs, off, imm = _SLOT.unpack_from(raw, pc * INSN_SIZE)
        imm_hi = 0
        if opcode == 0x18:
            if pc + 1 >= count:
                raise IsaError(f"insn {pc}: ld_imm64 is missing its second slot")
            op2, regs2, off2, imm_hi = _SLOT.unpack_from(raw, (pc + 1) * INSN_SIZE)
            if strict and (op2 or regs2 or off2):
                raise IsaError(f"insn {pc + 1}: second slot of ld_imm64 uses reserved fields")
        insn = Insn(opcode, regs & 0x0F, regs >> 4, off, imm, imm_hi)
        if strict:
            why = check_insn(insn)
            if why is not None:
                raise IsaError(f"insn {pc}: {why}")
        out.append(insn)
        pc += insn.slots
    return out


class _Shared(dict[int, "Insn | None"]):
    """A single-slot encoding (the slot as a little-endian u64) -> its Insn, or None when
    it is not well-formed (or a ``ld_imm64``): Insns are immutable, so equal slots share one
    object, decoded and checked once."""

    def __init__(self, strict: bool) -> None:
        super().__init__()
        self.strict = strict

    def __missing__(self, slot: int) -> Insn | None:
        opcode, regs, off, imm = _SLOT.unpack(slot.to_bytes(INSN_SIZE, "little"))
        insn = Insn(opcode, regs & 0x0F, regs >> 4, off, imm)
        ok = opcode != 0x18 and not (self.strict and check_insn(insn) is not None)
        self[slot] = insn if ok else None
        return self[slot]


def _decode_shared(raw: bytes, strict: bool) -> list[Insn] | None:
    """:func:`decode` of well-formed bytecode without ``ld_imm64`` (``None`` otherwise:
    the slot-by-slot decoder then reports the first problem)."""
    if b"\x18" in raw[::INSN_SIZE]:
        return None
    words = array.array("Q", raw)
    if sys.byteorder == "big":
        words.byteswap()
    shared = _Shared(strict)
    out = list(map(shared.__getitem__, words))
    if any(insn is None for insn in shared.values()):
        return None
    return out  # type: ignore[return-value]  # no None left in it


def encode_insn(insn: Insn) -> bytes:
    """Encode one logical instruction (16 bytes for ``ld_imm64``, else 8)."""
    first = _SLOT.pack(insn.opcode, insn.dst | (insn.src << 4), insn.off, insn.imm)
    if insn.is_wide:
        return first + _SLOT.pack(0, 0, 0, insn.imm_hi)
    return first


def encode(insns: Iterable[Insn]) -> bytes:
    """Encode logical instructions back into bytecode."""
    return b"".join(encode_insn(i) for i in insns)


def total_slots(insns: Sequence[Insn]) -> int:
    """Number of 8-byte slots ``insns`` occupies."""
    return sum(i.slots for i in insns)


def slot_index(insns: Sequence[Insn]) -> list[int]:
    """Program counter (slot) of each logical instruction."""
    pcs: list[int] = []
    pc = 0
    for insn in insns:
        pcs.append(pc)
        pc += insn.slots
    return pcs
