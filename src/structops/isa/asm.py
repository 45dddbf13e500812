"""An assembler for the text syntax of the ``bpf_conformance`` test vectors.

The syntax is the one of the ``-- asm`` sections (uBPF style)::

    mov %r0, 0x1          # ALU64; "mov32" is the ALU (32-bit) form
    ldxdw %r0, [%r1+8]    # ldx{b,h,w,dw}, sign-extending ldxs{b,h,w}
    stw [%r10-4], 7       # st{b,h,w,dw} imm, stx{b,h,w,dw} reg
    lock fetch add [%r10-8], %r1
    jsgt32 %r1, -2, label # j<cc>[32] dst, reg|imm, label|+off|-off
    ja label / ja32 label / call 5 / call local label / call %r2 / exit

Rules taken from the vectors: ``#`` starts a comment; ``name:`` defines a label; the
first ``exit`` also defines the label ``exit``; decimal immediates must fit a signed
32-bit field while hex ones may be written unsigned (``0xffffffff``).  Extensions for
opcodes the vectors lack: ``gotol``, ``may_goto``, ``movsx<from><to>``,
``ldacq{b,h,w,dw} %rD, [%rS+off]``, ``strel{b,h,w,dw} [%rD+off], %rS``,
``call runtime <btf id>`` (kfunc) and ``ld_pseudo %rD, <src>, <imm>[, <imm_hi>]``.
Errors raise :class:`~structops.isa.insn.IsaError` with the line number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from structops.isa.insn import Insn, IsaError
from structops.isa.opcodes import (
    ALU_OPS,
    BPF_ALU,
    BPF_ALU64,
    BPF_JMP,
    BPF_JMP32,
    BPF_K,
    BPF_X,
    JMP_OPS,
    LOAD_ACQ,
    STORE_REL,
    AtomicOp,
)

__all__ = ["assemble"]

_SIZE_CODE = {"b": 0x10, "h": 0x08, "w": 0x00, "dw": 0x18}
_ALU_CODE = {name: op for op, name in ALU_OPS.items() if name not in ("neg", "end")}
_ALU_CODE |= {"sdiv": 0x30, "smod": 0x90}
_JMP_CODE = {name: op for op, name in JMP_OPS.items()}
_ATOMIC_CODE = {
    "add": AtomicOp.ADD,
    "or": AtomicOp.OR,
    "and": AtomicOp.AND,
    "xor": AtomicOp.XOR,
}
_REG_RE = re.compile(r"%?r(\d+)$")
_MEM_RE = re.compile(r"\[\s*(%?r\d+)\s*(?:([+-])\s*(\S+?))?\s*\]$")
_NUM_RE = re.compile(r"[+-]?(0x[0-9a-fA-F]+|\d+)$")


def _number(text: str, bits: int, what: str) -> int:
    """Parse ``text``; decimal must fit signed ``bits``, hex may use the unsigned range."""
    if not _NUM_RE.match(text):
        raise IsaError(f"invalid {what}: {text!r}")
    value = int(text, 0)
    is_hex = "0x" in text.lower()
    low = -(1 << (bits - 1))
    high = (1 << bits) - 1 if is_hex else (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise IsaError(f"{what} {text} is out of the {bits}-bit range")
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _reg(text: str) -> int:
    m = _REG_RE.match(text)
    if not m or int(m.group(1)) > 10:
        raise IsaError(f"invalid register {text!r}")
    return int(m.group(1))


def _mem(text: str) -> tuple[int, int]:
    m = _MEM_RE.match(text)
    if not m:
        raise IsaError(f"invalid memory operand {text!r} (expected [%rN+off])")
    reg = _reg(m.group(1))
    if m.group(3) is None:
        return reg, 0
    off = _number(m.group(2) + m.group(3), 16, "offset")
    return reg, off


def _split_operands(text: str) -> list[str]:
    ops: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                ops.append(cur)
            cur = ""
            continue
        if not ch.isspace():
            cur += ch
    if cur:
        ops.append(cur)
    return ops


@dataclass
class _Pending:
    """A label reference to patch once all labels are known."""

    index: int
    label: str
    in_imm: bool
    line: int


@dataclass
class _State:
    insns: list[Insn] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    pc: int = 0
    line: int = 0

    def jump_target(self, text: str, in_imm: bool) -> int:
        if text[:1] in "+-" and _NUM_RE.match(text):
            return _number(text, 32 if in_imm else 16, "jump offset")
        if not re.match(r"[A-Za-z_.][\w.]*$", text):
            raise IsaError(f"invalid jump target {text!r}")
        self.pending.append(_Pending(len(self.insns), text, in_imm, self.line))
        return 0


def _expect(ops: list[str], n: int, mnemonic: str) -> None:
    if len(ops) != n:
        raise IsaError(f"invalid number of operands for {mnemonic}: expected {n}, got {len(ops)}")


def _alu(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    base, is32 = (mnemonic[:-2], True) if mnemonic.endswith("32") else (mnemonic, False)
    if base.endswith("64") and not is32:
        base = base[:-2]
    cls = BPF_ALU if is32 else BPF_ALU64
    if base == "neg":
        _expect(ops, 1, mnemonic)
        return Insn(0x80 | cls, _reg(ops[0]))
    if base not in _ALU_CODE:
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 2, mnemonic)
    off = 1 if base in ("sdiv", "smod") else 0
    dst = _reg(ops[0])
    if ops[1].startswith("%"):
        return Insn(_ALU_CODE[base] | BPF_X | cls, dst, _reg(ops[1]), off)
    return Insn(_ALU_CODE[base] | BPF_K | cls, dst, 0, off, _number(ops[1], 32, "immediate"))


def _movsx(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    m = re.match(r"movsx(8|16|32)(32|64)$", mnemonic)
    if not m or (m.group(2) == "32" and m.group(1) == "32"):
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 2, mnemonic)
    cls = BPF_ALU64 if m.group(2) == "64" else BPF_ALU
    return Insn(0xB0 | BPF_X | cls, _reg(ops[0]), _reg(ops[1]), int(m.group(1)))


def _endian(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    m = re.match(r"(be|le|swap|bswap)(16|32|64)$", mnemonic)
    if not m:
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 1, mnemonic)
    opcode = {"le": 0xD4, "be": 0xDC, "swap": 0xD7, "bswap": 0xD7}[m.group(1)]
    return Insn(opcode, _reg(ops[0]), imm=int(m.group(2)))


def _ldx(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    m = re.match(r"ldx(s?)(b|h|w|dw)$", mnemonic)
    if not m or (m.group(1) and m.group(2) == "dw"):
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 2, mnemonic)
    src, off = _mem(ops[1])
    mode = 0x80 if m.group(1) else 0x60
    return Insn(mode | _SIZE_CODE[m.group(2)] | 0x01, _reg(ops[0]), src, off)


def _st(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    m = re.match(r"st(x?)(b|h|w|dw)$", mnemonic)
    if not m:
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 2, mnemonic)
    dst, off = _mem(ops[0])
    size = _SIZE_CODE[m.group(2)]
    if m.group(1):
        return Insn(0x60 | size | 0x03, dst, _reg(ops[1]), off)
    return Insn(0x60 | size | 0x02, dst, 0, off, _number(ops[1], 32, "immediate"))


def _acq_rel(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    m = re.match(r"(ldacq|strel)(b|h|w|dw)$", mnemonic)
    if not m:
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 2, mnemonic)
    opcode = 0xC0 | _SIZE_CODE[m.group(2)] | 0x03
    if m.group(1) == "ldacq":
        src, off = _mem(ops[1])
        return Insn(opcode, _reg(ops[0]), src, off, LOAD_ACQ)
    dst, off = _mem(ops[0])
    return Insn(opcode, dst, _reg(ops[1]), off, STORE_REL)


def _lock(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    fetch = bool(ops) and ops[0] == "fetch"
    rest = ops[1:] if fetch else ops
    if len(rest) != 3:
        raise IsaError("invalid number of operands for lock")
    op_name, mem, src = rest
    is32 = op_name.endswith("32")
    base = op_name[:-2] if is32 else op_name
    if base in _ATOMIC_CODE:
        imm = int(_ATOMIC_CODE[base]) | (1 if fetch else 0)
    elif base == "xchg" and not fetch:
        imm = int(AtomicOp.XCHG)
    elif base == "cmpxchg" and not fetch:
        imm = int(AtomicOp.CMPXCHG)
    else:
        raise IsaError(f"invalid atomic operation {op_name!r}")
    dst, off = _mem(mem)
    return Insn(0xC3 if is32 else 0xDB, dst, _reg(src), off, imm)


def _jcc(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    base, is32 = (mnemonic[:-2], True) if mnemonic.endswith("32") else (mnemonic, False)
    if base not in _JMP_CODE:
        raise IsaError(f"invalid mnemonic {mnemonic!r}")
    _expect(ops, 3, mnemonic)
    cls = BPF_JMP32 if is32 else BPF_JMP
    dst = _reg(ops[0])
    off = st.jump_target(ops[2], False)
    if ops[1].startswith("%"):
        return Insn(_JMP_CODE[base] | BPF_X | cls, dst, _reg(ops[1]), off)
    return Insn(_JMP_CODE[base] | BPF_K | cls, dst, 0, off, _number(ops[1], 32, "immediate"))


def _ja(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    _expect(ops, 1, mnemonic)
    if mnemonic in ("ja32", "gotol"):
        return Insn(0x06, imm=st.jump_target(ops[0], True))
    if mnemonic == "may_goto":
        return Insn(0xE5, off=st.jump_target(ops[0], False))
    return Insn(0x05, off=st.jump_target(ops[0], False))


def _call(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    if len(ops) == 1 and ops[0].startswith("%"):
        return Insn(0x8D, _reg(ops[0]))
    if len(ops) == 1:
        ops = ["helper", ops[0]]
    _expect(ops, 2, mnemonic)
    mode, target = ops
    if mode == "helper":
        return Insn(0x85, imm=_number(target, 32, "helper id"))
    if mode == "local":
        return Insn(0x85, src=1, imm=st.jump_target(target, True))
    if mode == "runtime":
        return Insn(0x85, src=2, imm=_number(target, 32, "kfunc id"))
    raise IsaError(f"invalid call mode {mode!r}")


def _exit(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    _expect(ops, 0, mnemonic)
    st.labels.setdefault("exit", st.pc)
    return Insn(0x95)


def _lddw(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    _expect(ops, 2, mnemonic)
    return Insn.ld_imm64(_reg(ops[0]), _number(ops[1], 64, "64-bit immediate"))


def _ld_pseudo(st: _State, mnemonic: str, ops: list[str]) -> Insn:
    if len(ops) not in (3, 4):
        raise IsaError("invalid number of operands for ld_pseudo: expected 3 or 4")
    src = _number(ops[1], 8, "pseudo source")
    hi = _number(ops[3], 32, "immediate") if len(ops) == 4 else 0
    return Insn(0x18, _reg(ops[0]), src, 0, _number(ops[2], 32, "immediate"), hi)


_Encoder = Callable[[_State, str, list[str]], Insn]


def _encoder_for(mnemonic: str) -> _Encoder | None:
    table: list[tuple[str, _Encoder]] = [
        (r"(neg|add|sub|mul|div|sdiv|or|and|lsh|rsh|mod|smod|xor|mov|arsh)(32|64)?$", _alu),
        (r"movsx\d+$", _movsx),
        (r"(be|le|swap|bswap)\d+$", _endian),
        (r"ldxs?(b|h|w|dw)$", _ldx),
        (r"stx?(b|h|w|dw)$", _st),
        (r"(ldacq|strel)(b|h|w|dw)$", _acq_rel),
        (r"lock$", _lock),
        (r"j(eq|gt|ge|set|ne|sgt|sge|lt|le|slt|sle)(32)?$", _jcc),
        (r"(ja|ja32|gotol|may_goto)$", _ja),
        (r"call$", _call),
        (r"exit$", _exit),
        (r"lddw$", _lddw),
        (r"ld_pseudo$", _ld_pseudo),
    ]
    for pattern, encoder in table:
        if re.match(pattern, mnemonic):
            return encoder
    return None


def assemble(text: str) -> list[Insn]:
    """Assemble conformance-vector syntax into logical instructions.

    Raises :class:`IsaError` (``"line N: ..."``) for an unknown mnemonic, a bad operand
    count, register or immediate, or an undefined label.
    """
    st = _State()
    for lineno, raw in enumerate(text.splitlines(), 1):
        st.line = lineno
        line = raw.split("#", 1)[0].strip()
        if line.startswith("--"):
            raise IsaError(f"line {lineno}: unknown directive {line!r}")
        m = re.match(r"([A-Za-z_.][\w.]*):\s*(.*)$", line)
        if m:
            label = m.group(1)
            if label in st.labels and label != "exit":
                raise IsaError(f"line {lineno}: duplicate label {label!r}")
            st.labels[label] = st.pc
            line = m.group(2)
        if not line:
            continue
        mnemonic, _, rest = line.partition(" ")
        ops = _split_operands(rest)
        encoder = _encoder_for(mnemonic)
        if encoder is None:
            raise IsaError(f"line {lineno}: invalid mnemonic {mnemonic!r}")
        try:
            insn = encoder(st, mnemonic, ops)
        except IsaError as exc:
            raise IsaError(f"line {lineno}: {exc}") from None
        st.insns.append(insn)
        st.pc += insn.slots
    return _patch_labels(st)


def _patch_labels(st: _State) -> list[Insn]:
    pcs: list[int] = []
    pc = 0
    for insn in st.insns:
        pcs.append(pc)
        pc += insn.slots
    out = list(st.insns)
    for p in st.pending:
        if p.label not in st.labels:
            raise IsaError(f"line {p.line}: invalid label {p.label!r}")
        rel = st.labels[p.label] - pcs[p.index] - 1
        insn = out[p.index]
        try:
            if p.in_imm:
                out[p.index] = Insn(insn.opcode, insn.dst, insn.src, insn.off, rel, insn.imm_hi)
            else:
                out[p.index] = Insn(insn.opcode, insn.dst, insn.src, rel, insn.imm, insn.imm_hi)
        except IsaError:
            raise IsaError(f"line {p.line}: jump to {p.label!r} is out of range") from None
    return out
