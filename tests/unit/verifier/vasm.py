"""Tiny instruction builders for hand-assembled verifier test programs."""

from __future__ import annotations

import test_linux_scenarios as S

insn = S.insn
ldx_dw = S.ldx_dw
ldx_w = S.ldx_w
st_w = S.st_w
stx_w = S.stx_w
EXIT = S.EXIT


def mov(dst: int, imm: int) -> bytes:
    """``dst = imm`` (64-bit)."""
    return insn(0xB7, dst, imm=imm)


def movr(dst: int, src: int) -> bytes:
    """``dst = src``."""
    return insn(0xBF, dst, src)


def add(dst: int, imm: int) -> bytes:
    """``dst += imm``."""
    return insn(0x07, dst, imm=imm)


def alu_imm(op: int, dst: int, imm: int) -> bytes:
    """64-bit ALU ``dst op= imm`` (``op`` is the 0xF0 operation nibble)."""
    return insn(op | 0x07, dst, imm=imm)


def jmp_imm(op: int, dst: int, imm: int, off: int) -> bytes:
    """``if dst op imm goto +off``."""
    return insn(op | 0x05, dst, off=off, imm=imm)


def ja(off: int) -> bytes:
    """``goto +off``."""
    return insn(0x05, off=off)


def stx_dw(dst: int, src: int, off: int) -> bytes:
    """``*(u64 *)(dst + off) = src``."""
    return insn(0x7B, dst, src, off)


def st_dw(dst: int, off: int, imm: int) -> bytes:
    """``*(u64 *)(dst + off) = imm``."""
    return insn(0x7A, dst, off=off, imm=imm)


def call(helper: int) -> bytes:
    """``call helper``."""
    return insn(0x85, imm=helper)


def call_sub(rel: int) -> bytes:
    """bpf-to-bpf ``call pc+1+rel``."""
    return insn(0x85, 0, 1, 0, rel)


def ld_map_fd(dst: int, fd: int) -> bytes:
    """``dst = map fd`` (ld_imm64 with BPF_PSEUDO_MAP_FD)."""
    return insn(0x18, dst, 1, 0, fd) + insn(0)


JEQ, JNE, JGT, JLT = 0x10, 0x50, 0x20, 0xA0
ADD, MUL, RSH = 0x00, 0x20, 0x70
