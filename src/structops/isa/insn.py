"""The eBPF instruction model (RFC 9669 section 3: instruction encoding).

::

    struct bpf_insn {            /* 8 bytes, little-endian */
        __u8  code;              /* opcode */
        __u8  dst_reg:4;         /* destination register */
        __u8  src_reg:4;         /* source register */
        __s16 off;               /* signed offset */
        __s32 imm;               /* signed immediate constant */
    };

A ``ld_imm64`` (``lddw``, opcode 0x18) is one *logical* :class:`Insn` that occupies two
8-byte slots: the second slot only carries the upper 32 bits of the constant
(``imm_hi``).  Jump offsets and program counters always count *slots*, as the kernel does.
"""

from __future__ import annotations

from dataclasses import dataclass

from structops.errors import FormatError
from structops.isa.opcodes import OPCODES, Kind, OpSpec

__all__ = ["MAX_REG", "Insn", "IsaError", "check_insn", "jump_target"]

#: Highest architectural register (r10 is the read-only frame pointer).
MAX_REG = 10


class IsaError(FormatError):
    """Malformed eBPF bytecode or assembly text; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Insn:
    """One logical eBPF instruction.

    ``off`` is a signed 16-bit and ``imm`` a signed 32-bit value.  ``imm_hi`` is only
    meaningful for ``ld_imm64`` (the second slot's ``imm``); it is stored signed too.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm_hi: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.opcode <= 0xFF:
            raise IsaError(f"opcode {self.opcode:#x} does not fit in 8 bits")
        if not (0 <= self.dst <= 15 and 0 <= self.src <= 15):
            raise IsaError(f"register field out of range (dst={self.dst}, src={self.src})")
        if not -0x8000 <= self.off <= 0x7FFF:
            raise IsaError(f"offset {self.off} does not fit in a signed 16-bit field")
        for value in (self.imm, self.imm_hi):
            if not -0x8000_0000 <= value <= 0x7FFF_FFFF:
                raise IsaError(f"immediate {value} does not fit in a signed 32-bit field")

    @property
    def spec(self) -> OpSpec | None:
        """The opcode's table entry (``None`` for an undefined opcode)."""
        return OPCODES.get(self.opcode)

    @property
    def is_wide(self) -> bool:
        """True for the two-slot ``ld_imm64``."""
        return self.opcode == 0x18

    @property
    def slots(self) -> int:
        """How many 8-byte slots the instruction occupies (1 or 2)."""
        return 2 if self.opcode == 0x18 else 1

    @property
    def imm64(self) -> int:
        """The unsigned 64-bit constant of a ``ld_imm64`` (low ``imm`` | high ``imm_hi``)."""
        return ((self.imm_hi & 0xFFFF_FFFF) << 32) | (self.imm & 0xFFFF_FFFF)

    @classmethod
    def ld_imm64(cls, dst: int, value: int, src: int = 0) -> Insn:
        """Build ``dst = value ll`` (``src`` selects a pseudo source, RFC 9669 5.4)."""
        value &= 0xFFFF_FFFF_FFFF_FFFF
        lo = value & 0xFFFF_FFFF
        hi = value >> 32
        return cls(0x18, dst, src, 0, _s32(lo), _s32(hi))


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


def check_insn(insn: Insn) -> str | None:
    """Why ``insn`` is not well-formed (RFC 9669 reserved fields), or ``None`` when it is.

    Mirrors the kernel verifier's per-opcode field checks (``check_alu_op``,
    ``do_check`` "BPF_JA uses reserved fields" …): undefined opcodes, reserved fields that
    are not zero, sub-opcode fields with undefined values, and registers above r10.
    """
    spec = OPCODES.get(insn.opcode)
    if spec is None:
        return f"unknown opcode {insn.opcode:#04x}"
    if spec.dst_zero and insn.dst:
        return f"{spec.name} uses reserved fields (dst_reg={insn.dst})"
    if spec.src_zero and insn.src:
        return f"{spec.name} uses reserved fields (src_reg={insn.src})"
    if spec.off_zero and insn.off:
        return f"{spec.name} uses reserved fields (off={insn.off})"
    if spec.imm_zero and insn.imm:
        return f"{spec.name} uses reserved fields (imm={insn.imm})"
    if spec.off_values is not None and insn.off not in spec.off_values:
        return f"{spec.name} has an invalid off={insn.off}"
    if spec.imm_values is not None and insn.imm not in spec.imm_values:
        return f"{spec.name} has an invalid imm={insn.imm:#x}"
    if spec.src_values is not None and insn.src not in spec.src_values:
        return f"{spec.name} has an invalid src_reg={insn.src}"
    if spec.kind is Kind.CALL and insn.src != 2 and insn.off:
        return f"call uses reserved fields (off={insn.off})"
    if spec.kind is not Kind.LD_IMM64 and insn.imm_hi:
        return f"{spec.name} has a second-slot immediate but is not ld_imm64"
    src_is_reg = spec.kind not in (Kind.LD_IMM64, Kind.CALL)
    if insn.dst > 10 or (src_is_reg and insn.src > 10):
        return f"invalid register r{max(insn.dst, insn.src)}"
    return None


def jump_target(insn: Insn, pc: int) -> int | None:
    """Slot a jump at slot ``pc`` may transfer to (``None`` when ``insn`` is no jump).

    Covers conditional jumps, ``may_goto``, ``ja`` (``off``) and ``gotol`` (``imm``);
    calls are not jumps.
    """
    spec = OPCODES.get(insn.opcode)
    if spec is None:
        return None
    if spec.kind in (Kind.JCOND, Kind.MAY_GOTO):
        return pc + 1 + insn.off
    if spec.kind is Kind.JA:
        return pc + 1 + (insn.off if spec.is64 else insn.imm)
    return None
