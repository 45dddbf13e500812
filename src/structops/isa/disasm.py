"""A disassembler printing eBPF the way ``llvm-objdump -d --mcpu=v4`` does.

Each line is ``<pc>:\\t<hex bytes>\\t<text>``; the text is LLVM's C-like BPF syntax
(``r1 += 0xa``, ``w0 = *(u32 *)(r1 + 0x4)``, ``if r1 s> r2 goto +0x1``,
``lock *(u64 *)(r10 - 0x8) += r1``, ``r1 = 0x1122334455667788 ll``).  Load-acquire and
store-release, which LLVM 19 cannot print, use the spelling of newer LLVM releases
(``r0 = load_acquire((u64 *)(r1 + 0x0))``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from structops.isa.codec import encode_insn
from structops.isa.insn import Insn
from structops.isa.opcodes import LOAD_ACQ, OPCODES, STORE_REL, AtomicOp, Kind, OpSpec

__all__ = ["disassemble", "format_insn"]

_ALU_SYMBOL = {
    "add": "+=",
    "sub": "-=",
    "mul": "*=",
    "div": "/=",
    "or": "|=",
    "and": "&=",
    "lsh": "<<=",
    "rsh": ">>=",
    "mod": "%=",
    "xor": "^=",
    "arsh": "s>>=",
}
_JMP_SYMBOL = {
    "jeq": "==",
    "jgt": ">",
    "jge": ">=",
    "jset": "&",
    "jne": "!=",
    "jsgt": "s>",
    "jsge": "s>=",
    "jlt": "<",
    "jle": "<=",
    "jslt": "s<",
    "jsle": "s<=",
}
_ATOMIC_SYMBOL = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}
_ATOMIC_FETCH = {
    AtomicOp.FETCH_ADD: "atomic_fetch_add",
    AtomicOp.FETCH_OR: "atomic_fetch_or",
    AtomicOp.FETCH_AND: "atomic_fetch_and",
    AtomicOp.FETCH_XOR: "atomic_fetch_xor",
}


def _hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _mem(reg: int, off: int) -> str:
    sign = "-" if off < 0 else "+"
    return f"r{reg} {sign} {abs(off):#x}"


def _reg(n: int, is64: bool) -> str:
    return f"r{n}" if is64 else f"w{n}"


def _fmt_alu(i: Insn, s: OpSpec) -> str:
    d = _reg(i.dst, s.is64)
    operand = _reg(i.src, s.is64) if s.use_src_reg else _hex(i.imm)
    symbol = _ALU_SYMBOL[s.name]
    if i.off == 1 and s.name in ("div", "mod"):
        symbol = "s" + symbol
    return f"{d} {symbol} {operand}"


def _fmt_mov(i: Insn, s: OpSpec) -> str:
    d = _reg(i.dst, s.is64)
    if not s.use_src_reg:
        return f"{d} = {_hex(i.imm)}"
    cast = f"(s{i.off})" if i.off else ""
    return f"{d} = {cast}{_reg(i.src, s.is64)}"


def _fmt_end(i: Insn, s: OpSpec) -> str:
    return f"r{i.dst} = {s.name}{i.imm} r{i.dst}"


def _fmt_ldx(i: Insn, s: OpSpec) -> str:
    width = ("s" if s.signed else "u") + str(s.size * 8)
    d = _reg(i.dst, s.size == 8 or s.signed)
    return f"{d} = *({width} *)({_mem(i.src, i.off)})"


def _fmt_st(i: Insn, s: OpSpec) -> str:
    return f"*(u{s.size * 8} *)({_mem(i.dst, i.off)}) = {_hex(i.imm)}"


def _fmt_stx(i: Insn, s: OpSpec) -> str:
    return f"*(u{s.size * 8} *)({_mem(i.dst, i.off)}) = {_reg(i.src, s.size == 8)}"


def _fmt_atomic(i: Insn, s: OpSpec) -> str:
    wide = s.size == 8
    ptr = f"(u{s.size * 8} *)({_mem(i.dst, i.off)})"
    src = _reg(i.src, wide)
    if i.imm == LOAD_ACQ:
        return f"{_reg(i.dst, wide)} = load_acquire((u{s.size * 8} *)({_mem(i.src, i.off)}))"
    if i.imm == STORE_REL:
        return f"store_release({ptr}, {src})"
    op = AtomicOp(i.imm)
    if op in _ATOMIC_SYMBOL:
        return f"lock *{ptr} {_ATOMIC_SYMBOL[op]} {src}"
    if op in _ATOMIC_FETCH:
        return f"{src} = {_ATOMIC_FETCH[op]}({ptr}, {src})"
    suffix = "_64" if wide else "32_32"
    if op is AtomicOp.XCHG:
        return f"{src} = xchg{suffix}({_mem(i.dst, i.off)}, {src})"
    r0 = _reg(0, wide)
    return f"{r0} = cmpxchg{suffix}({_mem(i.dst, i.off)}, {r0}, {src})"


def _fmt_jcond(i: Insn, s: OpSpec) -> str:
    operand = _reg(i.src, s.is64) if s.use_src_reg else _hex(i.imm)
    return f"if {_reg(i.dst, s.is64)} {_JMP_SYMBOL[s.name]} {operand} goto {i.off:+#x}"


def _fmt_ja(i: Insn, s: OpSpec) -> str:
    return f"gotol {i.imm:+#x}" if not s.is64 else f"goto {i.off:+#x}"


def _fmt_ld_imm64(i: Insn, s: OpSpec) -> str:
    if i.src:
        return f"ld_pseudo\tr{i.dst}, {i.src:#x}, {_hex(i.imm)}"
    return f"r{i.dst} = {i.imm64:#x} ll"


def _fmt_ld_pkt(i: Insn, s: OpSpec) -> str:
    where = _hex(i.imm) if s.kind is Kind.LD_ABS else (f"r{i.src}" + (f" + {_hex(i.imm)}" if i.imm else ""))
    return f"r0 = *(u{s.size * 8} *)skb[{where}]"


_FORMATTERS: dict[Kind, Callable[[Insn, OpSpec], str]] = {
    Kind.ALU: _fmt_alu,
    Kind.NEG: lambda i, s: f"{_reg(i.dst, s.is64)} = -{_reg(i.dst, s.is64)}",
    Kind.MOV: _fmt_mov,
    Kind.END: _fmt_end,
    Kind.LDX: _fmt_ldx,
    Kind.ST: _fmt_st,
    Kind.STX: _fmt_stx,
    Kind.ATOMIC: _fmt_atomic,
    Kind.JCOND: _fmt_jcond,
    Kind.JA: _fmt_ja,
    Kind.MAY_GOTO: lambda i, s: f"may_goto {i.off:+#x}",
    Kind.CALL: lambda i, s: f"call {_hex(i.imm)}",
    Kind.CALLX: lambda i, s: f"callx r{i.dst}",
    Kind.EXIT: lambda i, s: "exit",
    Kind.LD_IMM64: _fmt_ld_imm64,
    Kind.LD_ABS: _fmt_ld_pkt,
    Kind.LD_IND: _fmt_ld_pkt,
}


def format_insn(insn: Insn) -> str:
    """The LLVM-syntax text of one instruction (``<unknown>`` for an invalid opcode)."""
    spec = OPCODES.get(insn.opcode)
    if spec is None:
        return "<unknown>"
    if spec.kind is Kind.ATOMIC and insn.imm not in (spec.imm_values or ()):
        return "<unknown>"
    return _FORMATTERS[spec.kind](insn, spec)


def _target(insn: Insn, pc: int) -> int | None:
    spec = insn.spec
    if spec is None:
        return None
    if spec.kind in (Kind.JCOND, Kind.MAY_GOTO) or (spec.kind is Kind.JA and spec.is64):
        return pc + 1 + insn.off
    if spec.kind is Kind.JA:
        return pc + 1 + insn.imm
    return None


def disassemble(insns: Sequence[Insn], *, name: str | None = None, with_bytes: bool = True) -> str:
    """Disassemble ``insns`` into ``llvm-objdump -d`` style lines.

    When ``name`` is given, jump targets get LLVM's ``<name+0xBYTES>`` annotation and a
    ``<name>:`` header line is printed first.
    """
    lines: list[str] = [f"{0:016x} <{name}>:"] if name else []
    pc = 0
    for insn in insns:
        text = format_insn(insn)
        target = _target(insn, pc)
        if name and target is not None:
            text += f" <{name}+{target * 8:#x}>"
        raw = " ".join(f"{b:02x}" for b in encode_insn(insn))
        lines.append(f"{pc:8d}:\t{raw}\t{text}" if with_bytes else f"{pc:8d}:\t{text}")
        pc += insn.slots
    return "\n".join(lines) + ("\n" if lines else "")
