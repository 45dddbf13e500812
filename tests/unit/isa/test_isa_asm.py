"""The conformance-syntax assembler: encodings, labels, ranges and error messages."""

from __future__ import annotations

import pytest

from structops.isa import Insn, IsaError, assemble, encode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mov %r0, 1", Insn(0xB7, 0, 0, 0, 1)),
        ("mov32 %r1, %r2", Insn(0xBC, 1, 2)),
        ("add %r1, -3", Insn(0x07, 1, 0, 0, -3)),
        ("mov32 %r0, 0xffffffff", Insn(0xB4, 0, 0, 0, -1)),  # hex may be written unsigned
        ("sdiv32 %r1, %r2", Insn(0x3C, 1, 2, 1)),
        ("smod %r1, 3", Insn(0x97, 1, 0, 1, 3)),
        ("neg32 %r4", Insn(0x84, 4)),
        ("be16 %r3", Insn(0xDC, 3, imm=16)),
        ("le64 %r3", Insn(0xD4, 3, imm=64)),
        ("swap32 %r3", Insn(0xD7, 3, imm=32)),
        ("movsx832 %r0, %r1", Insn(0xBC, 0, 1, 8)),
        ("movsx3264 %r0, %r1", Insn(0xBF, 0, 1, 32)),
        ("ldxh %r0, [%r1+0x2]", Insn(0x69, 0, 1, 2)),
        ("ldxsb %r0, [%r10-1]", Insn(0x91, 0, 10, -1)),
        ("ldxdw %r0, [%r1]", Insn(0x79, 0, 1, 0)),
        ("stb [%r10-1], 0x80", Insn(0x72, 10, 0, -1, 0x80)),
        ("stxdw [%r10-8], %r3", Insn(0x7B, 10, 3, -8)),
        ("lock add32 [%r10-4], %r1", Insn(0xC3, 10, 1, -4, 0x00)),
        ("lock fetch xor [%r10-8], %r1", Insn(0xDB, 10, 1, -8, 0xA1)),
        ("lock xchg [%r10-8], %r1", Insn(0xDB, 10, 1, -8, 0xE1)),
        ("lock cmpxchg32 [%r10-8], %r1", Insn(0xC3, 10, 1, -8, 0xF1)),
        ("ldacqb %r0, [%r1+4]", Insn(0xD3, 0, 1, 4, 0x100)),
        ("streldw [%r1+0], %r2", Insn(0xDB, 1, 2, 0, 0x110)),
        ("jsgt32 %r1, -2, +3", Insn(0x66, 1, 0, 3, -2)),
        ("jset %r1, %r2, -1", Insn(0x4D, 1, 2, -1)),
        ("call 5", Insn(0x85, imm=5)),
        ("call runtime 7", Insn(0x85, src=2, imm=7)),
        ("call %r2", Insn(0x8D, 2)),
        ("may_goto +2", Insn(0xE5, off=2)),
        ("lddw %r0, 2147483648", Insn.ld_imm64(0, 2147483648)),
        ("ld_pseudo %r1, 2, 3, 16", Insn(0x18, 1, 2, 0, 3, 16)),
    ],
)
def test_single_instruction(text: str, expected: Insn) -> None:
    assert assemble(text + "\nexit")[0] == expected


def test_labels_count_slots_and_exit_label() -> None:
    text = """
    ja over      # comment
    lddw %r0, 1
    over: mov %r0, 2
    jeq %r0, 2, exit
    call local f
    exit
    f:
    ja32 f
    """
    insns = assemble(text)
    assert insns[0].off == 2  # over the two slots of lddw
    assert insns[3].off == 1  # "exit" names the first exit instruction
    assert insns[4].imm == 1  # call local is relative, in imm
    assert insns[6] == Insn(0x06, imm=-1)


def test_raw_encoding_of_a_vector_program() -> None:
    raw = encode(assemble("lddw %r0, 0x1122334455667788\nexit"))
    assert raw.hex() == "18000000887766550000000044332211" + "9500000000000000"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("mov32 %r0, 2147483648", "out of the 32-bit range"),
        ("mov32 %r0, 0x100000000", "out of the 32-bit range"),
        ("ldxb %r0, [%r1+0x10000]", "out of the 16-bit range"),
        ("ja NOT_A_LABEL", "invalid label"),
        ("lock or [%r10-8]", "operands for lock"),
        ("lock", "operands for lock"),
        ("ldxq %r0, %r1", "invalid mnemonic"),
        ("ldxb %r0, %r1", "invalid memory operand"),
        ("lddw %r0", "invalid number of operands"),
        ("or %r0, %r50", "invalid register"),
        ("-- Unknown directive", "unknown directive"),
        ("a:\na:\nexit", "duplicate label"),
        ("call nowhere 5", "invalid call mode"),
        ("lock fetch xchg [%r10-8], %r1", "invalid atomic"),
    ],
)
def test_errors_name_the_line(text: str, match: str) -> None:
    with pytest.raises(IsaError, match=match) as info:
        assemble(text)
    assert str(info.value).startswith("line ")
    assert isinstance(info.value, ValueError)
