"""The eBPF opcode tables (RFC 9669 sections 3-5; ``reference/ebpf-isa-opcodes.txt``).

An opcode byte splits into a 3-bit class and class-specific fields:

* ALU / ALU64 / JMP / JMP32: ``op(4) | source(1) | class(3)``
* LD / LDX / ST / STX:       ``mode(3) | size(2) | class(3)``

Every valid opcode is described by one :class:`OpSpec` in :data:`OPCODES`, built from the
small tables below rather than from if-chains.  An :class:`OpSpec` says which kind of
operation the opcode is (:class:`Kind`), its mnemonic, and the rules its other fields
must obey (RFC 9669 marks unused fields "reserved, must be zero"; the kernel verifier
rejects programs that set them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ALU_OPS",
    "ATOMIC_OPS",
    "BPF_ALU",
    "BPF_ALU64",
    "BPF_JMP",
    "BPF_JMP32",
    "BPF_LD",
    "BPF_LDX",
    "BPF_ST",
    "BPF_STX",
    "BPF_X",
    "BPF_K",
    "JMP_OPS",
    "LOAD_ACQ",
    "MAY_GOTO",
    "OPCODES",
    "SIZE_BYTES",
    "STORE_REL",
    "AtomicOp",
    "Kind",
    "OpSpec",
    "opcode_spec",
]

# --- classes (RFC 9669 3.3) -------------------------------------------------
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# --- source bit (RFC 9669 4) ------------------------------------------------
BPF_K = 0x00
BPF_X = 0x08

# --- load/store sizes and modes (RFC 9669 5) --------------------------------
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_DW = 0x18
SIZE_BYTES: dict[int, int] = {BPF_W: 4, BPF_H: 2, BPF_B: 1, BPF_DW: 8}
SIZE_SUFFIX: dict[int, str] = {1: "b", 2: "h", 4: "w", 8: "dw"}

BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_MEMSX = 0x80
BPF_ATOMIC = 0xC0

#: ALU operation code -> mnemonic (RFC 9669 table 5).  ``neg``/``end`` are unary.
ALU_OPS: dict[int, str] = {
    0x00: "add",
    0x10: "sub",
    0x20: "mul",
    0x30: "div",
    0x40: "or",
    0x50: "and",
    0x60: "lsh",
    0x70: "rsh",
    0x80: "neg",
    0x90: "mod",
    0xA0: "xor",
    0xB0: "mov",
    0xC0: "arsh",
    0xD0: "end",
}

#: Conditional jump code -> mnemonic (RFC 9669 table 7).
JMP_OPS: dict[int, str] = {
    0x10: "jeq",
    0x20: "jgt",
    0x30: "jge",
    0x40: "jset",
    0x50: "jne",
    0x60: "jsgt",
    0x70: "jsge",
    0xA0: "jlt",
    0xB0: "jle",
    0xC0: "jslt",
    0xD0: "jsle",
}
BPF_JA = 0x00
BPF_CALL = 0x80
BPF_EXIT = 0x90
BPF_JCOND = 0xE0
#: ``src`` value of a JCOND instruction meaning ``may_goto`` (kernel ``BPF_MAY_GOTO``).
MAY_GOTO = 0

#: The FETCH modifier bit of atomic operations (RFC 9669 5.3).
BPF_FETCH = 0x01
#: ``imm`` of a load-acquire / store-release (kernel ``BPF_LOAD_ACQ`` / ``BPF_STORE_REL``).
LOAD_ACQ = 0x100
STORE_REL = 0x110


class AtomicOp(enum.IntEnum):
    """The ``imm`` values of a BPF_ATOMIC instruction (RFC 9669 table 11 + kernel 6.15+)."""

    ADD = 0x00
    FETCH_ADD = 0x01
    OR = 0x40
    FETCH_OR = 0x41
    AND = 0x50
    FETCH_AND = 0x51
    XOR = 0xA0
    FETCH_XOR = 0xA1
    XCHG = 0xE1
    CMPXCHG = 0xF1
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


#: Every read-modify-write atomic ``imm`` (valid for W and DW only).
ATOMIC_OPS: frozenset[int] = frozenset(int(op) for op in AtomicOp if op < 0x100)


class Kind(enum.Enum):
    """What an opcode does, the key both executors dispatch on."""

    ALU = "alu"  # binary ALU op, 32 or 64 bit
    NEG = "neg"
    MOV = "mov"  # includes movsx (off = 8/16/32)
    END = "end"  # le/be (ALU) or bswap (ALU64)
    JA = "ja"  # goto +off (JMP) or gotol +imm (JMP32)
    JCOND = "jcond"  # conditional jump
    MAY_GOTO = "may_goto"
    CALL = "call"
    CALLX = "callx"
    EXIT = "exit"
    LD_IMM64 = "ld_imm64"
    LD_ABS = "ld_abs"
    LD_IND = "ld_ind"
    LDX = "ldx"  # includes sign-extending MEMSX loads
    ST = "st"
    STX = "stx"
    ATOMIC = "atomic"  # includes load-acquire / store-release


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One valid opcode: its kind, mnemonic and the constraints on the other fields.

    ``is64`` is the operand width of ALU/JMP ops; ``size`` the access width in bytes of
    memory ops; ``signed`` marks MEMSX loads.  The ``*_zero`` flags list the fields the
    RFC reserves for this opcode; ``off_values`` / ``imm_values`` / ``src_values`` restrict
    fields that act as sub-opcodes (``None`` = unrestricted).
    """

    opcode: int
    kind: Kind
    name: str
    is64: bool = True
    use_src_reg: bool = False
    size: int = 0
    signed: bool = False
    dst_zero: bool = False
    src_zero: bool = False
    off_zero: bool = False
    imm_zero: bool = False
    off_values: frozenset[int] | None = None
    imm_values: frozenset[int] | None = None
    src_values: frozenset[int] | None = None

    @property
    def cls(self) -> int:
        """The 3-bit instruction class."""
        return self.opcode & 0x07

    @property
    def op(self) -> int:
        """The ALU/JMP operation bits (``opcode & 0xf0``)."""
        return self.opcode & 0xF0


def _alu_specs() -> list[OpSpec]:
    specs: list[OpSpec] = []
    for cls, is64 in ((BPF_ALU, False), (BPF_ALU64, True)):
        for op, name in ALU_OPS.items():
            for source in (BPF_K, BPF_X):
                opcode = op | source | cls
                x = source == BPF_X
                if name == "neg":
                    if x:
                        continue
                    specs.append(OpSpec(opcode, Kind.NEG, name, is64, src_zero=True, off_zero=True, imm_zero=True))
                elif name == "end":
                    if is64 and x:
                        continue  # ALU64|END|X is not defined
                    label = "bswap" if is64 else ("be" if x else "le")
                    specs.append(
                        OpSpec(
                            opcode,
                            Kind.END,
                            label,
                            is64,
                            src_zero=True,
                            off_zero=True,
                            imm_values=frozenset({16, 32, 64}),
                        )
                    )
                elif name == "mov":
                    offs = frozenset({0, 8, 16, 32} if is64 else {0, 8, 16}) if x else frozenset({0})
                    specs.append(OpSpec(opcode, Kind.MOV, name, is64, x, src_zero=not x, imm_zero=x, off_values=offs))
                else:
                    offs = frozenset({0, 1}) if name in ("div", "mod") else frozenset({0})
                    specs.append(OpSpec(opcode, Kind.ALU, name, is64, x, src_zero=not x, imm_zero=x, off_values=offs))
    return specs


def _jmp_specs() -> list[OpSpec]:
    specs: list[OpSpec] = []
    for cls, is64 in ((BPF_JMP, True), (BPF_JMP32, False)):
        for op, name in JMP_OPS.items():
            for source in (BPF_K, BPF_X):
                x = source == BPF_X
                specs.append(OpSpec(op | source | cls, Kind.JCOND, name, is64, x, src_zero=not x, imm_zero=x))
    specs += [
        OpSpec(BPF_JA | BPF_JMP, Kind.JA, "ja", dst_zero=True, src_zero=True, imm_zero=True),
        OpSpec(BPF_JA | BPF_JMP32, Kind.JA, "gotol", False, dst_zero=True, src_zero=True, off_zero=True),
        OpSpec(BPF_CALL | BPF_JMP, Kind.CALL, "call", dst_zero=True, src_values=frozenset({0, 1, 2})),
        OpSpec(BPF_CALL | BPF_X | BPF_JMP, Kind.CALLX, "callx", src_zero=True, off_zero=True, imm_zero=True),
        OpSpec(BPF_EXIT | BPF_JMP, Kind.EXIT, "exit", dst_zero=True, src_zero=True, off_zero=True, imm_zero=True),
        OpSpec(
            BPF_JCOND | BPF_JMP,
            Kind.MAY_GOTO,
            "may_goto",
            dst_zero=True,
            imm_zero=True,
            src_values=frozenset({MAY_GOTO}),
        ),
    ]
    return specs


def _mem_specs() -> list[OpSpec]:
    specs: list[OpSpec] = []
    for size_bits, nbytes in SIZE_BYTES.items():
        sfx = SIZE_SUFFIX[nbytes]
        specs.append(OpSpec(BPF_LDX | BPF_MEM | size_bits, Kind.LDX, "ldx" + sfx, size=nbytes, imm_zero=True))
        if nbytes != 8:  # sign-extending loads and the legacy packet loads have no 8-byte form
            sx, ab, ind = BPF_LDX | BPF_MEMSX | size_bits, BPF_LD | BPF_ABS | size_bits, BPF_LD | BPF_IND | size_bits
            specs.append(OpSpec(sx, Kind.LDX, "ldxs" + sfx, size=nbytes, signed=True, imm_zero=True))
            specs.append(
                OpSpec(ab, Kind.LD_ABS, "ldabs" + sfx, size=nbytes, dst_zero=True, src_zero=True, off_zero=True)
            )
            specs.append(OpSpec(ind, Kind.LD_IND, "ldind" + sfx, size=nbytes, dst_zero=True, off_zero=True))
        specs.append(OpSpec(BPF_ST | BPF_MEM | size_bits, Kind.ST, "st" + sfx, size=nbytes, src_zero=True))
        specs.append(OpSpec(BPF_STX | BPF_MEM | size_bits, Kind.STX, "stx" + sfx, size=nbytes, imm_zero=True))
        ordering = {LOAD_ACQ, STORE_REL}
        imms = frozenset(ATOMIC_OPS | ordering) if nbytes >= 4 else frozenset(ordering)
        specs.append(OpSpec(BPF_STX | BPF_ATOMIC | size_bits, Kind.ATOMIC, "atomic", size=nbytes, imm_values=imms))
    specs.append(
        OpSpec(BPF_LD | BPF_IMM | BPF_DW, Kind.LD_IMM64, "lddw", size=8, off_zero=True, src_values=frozenset(range(7)))
    )
    return specs


def _build() -> dict[int, OpSpec]:
    table: dict[int, OpSpec] = {}
    for spec in _alu_specs() + _jmp_specs() + _mem_specs():
        if spec.opcode in table:  # pragma: no cover - table construction bug
            raise AssertionError(f"duplicate opcode {spec.opcode:#x}")
        table[spec.opcode] = spec
    return table


#: opcode byte -> :class:`OpSpec` for every opcode this ISA defines.
OPCODES: dict[int, OpSpec] = _build()


def opcode_spec(opcode: int) -> OpSpec | None:
    """The :class:`OpSpec` of ``opcode``, or ``None`` when the byte is not a valid opcode."""
    return OPCODES.get(opcode)
