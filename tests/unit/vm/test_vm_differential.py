"""Differential tests: the fast path agrees with the reference interpreter; junk never crashes.

Hypothesis generates well-formed programs (ALU on both widths, stack loads/stores, atomics,
forward branches, a counted loop around the body) and runs them on fresh, identically
laid-out VMs; ``r0`` or the fault (class and instruction index) must match.  Random bytes
and random well-formed-looking instructions must only ever produce clean errors.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from structops.errors import FormatError, VMFault
from structops.isa import OPCODES, Insn, Kind, check_insn, encode
from structops.vm import VM, Program

ALU_CODES = [op for op, spec in OPCODES.items() if spec.kind in (Kind.ALU, Kind.NEG, Kind.MOV, Kind.END)]
JCOND_CODES = [op for op, spec in OPCODES.items() if spec.kind is Kind.JCOND]
SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}

regs = st.integers(0, 8)  # r9 is the loop counter, r10 the frame pointer
imm32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 31, 32, 63, 64, -(2**31)]))


@st.composite
def alu_insn(draw: st.DrawFn) -> Insn:
    opcode = draw(st.sampled_from(ALU_CODES))
    spec = OPCODES[opcode]
    off = draw(st.sampled_from(sorted(spec.off_values))) if spec.off_values else 0
    imm = draw(st.sampled_from(sorted(spec.imm_values))) if spec.imm_values else (0 if spec.imm_zero else draw(imm32))
    src = 0 if spec.src_zero else draw(regs)
    return Insn(opcode, draw(regs), src, off, imm)


@st.composite
def mem_insn(draw: st.DrawFn) -> Insn:
    size = draw(st.sampled_from([1, 2, 4, 8]))
    slot = draw(st.integers(1, 8)) * 8
    off = -slot if draw(st.integers(0, 20)) else draw(st.sampled_from([0, 8, -520, 4000]))
    kind = draw(st.sampled_from(["ldx", "ldxs", "st", "stx", "atomic"]))
    if kind == "ldx":
        return Insn(0x61 | SIZES[size], draw(regs), 10, off)
    if kind == "ldxs" and size < 8:
        return Insn(0x81 | SIZES[size], draw(regs), 10, off)
    if kind == "st":
        return Insn(0x62 | SIZES[size], 10, 0, off, draw(imm32))
    if kind == "atomic" and size >= 4:
        op = draw(st.sampled_from([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1]))
        return Insn(0xC3 | SIZES[size], 10, draw(regs), off, op)
    return Insn(0x63 | SIZES[size], 10, draw(regs), off)


@st.composite
def program(draw: st.DrawFn) -> list[Insn]:
    body: list[Insn] = []
    n = draw(st.integers(1, 25))
    for i in range(n):
        choice = draw(st.integers(0, 9))
        if choice < 6:
            body.append(draw(alu_insn()))
        elif choice < 8:
            body.append(draw(mem_insn()))
        else:
            opcode = draw(st.sampled_from(JCOND_CODES))
            spec = OPCODES[opcode]
            src = draw(regs) if spec.use_src_reg else 0
            imm = 0 if spec.use_src_reg else draw(imm32)
            body.append(Insn(opcode, draw(regs), src, draw(st.integers(0, n - 1 - i)), imm))
    init = [Insn(0xB7, r, 0, 0, draw(imm32)) for r in range(9)]
    loops = draw(st.integers(0, 3))
    if not loops:
        return [*init, *body, Insn(0x95)]
    # mov r9, loops; body; sub r9, 1; jne r9, 0, <body start>
    back = -(len(body) + 2)
    return [*init, Insn(0xB7, 9, 0, 0, loops), *body, Insn(0x17, 9, 0, 0, 1), Insn(0x55, 9, 0, back), Insn(0x95)]


def _outcome(insns: list[Insn] | bytes, engine: str) -> tuple[str, int]:
    vm = VM(clock_ns=lambda: 123, seed=7, insn_limit=20_000)
    try:
        prog = Program.load(insns, vm=vm)
    except FormatError as exc:
        return ("load-error", len(str(exc)) > 0)
    try:
        return ("r0", prog.run(1, 2, engine=engine))  # type: ignore[arg-type]
    except VMFault as fault:
        return (type(fault).__name__ + (":budget" if "budget" in str(fault) else ""), fault.pc)


@given(program())
def test_fast_path_matches_interpreter(insns: list[Insn]) -> None:
    assert _outcome(insns, "interp") == _outcome(insns, "fast")


@given(st.binary(max_size=160))
def test_random_bytes_never_crash(raw: bytes) -> None:
    for engine in ("interp", "fast"):
        kind, _ = _outcome(raw, engine)
        assert kind in ("load-error", "r0", "VMFault", "MemoryFault", "VMFault:budget")


@st.composite
def plausible_insn(draw: st.DrawFn) -> Insn:
    opcode = draw(st.sampled_from(sorted(OPCODES)))
    spec = OPCODES[opcode]
    if spec.kind is Kind.LD_IMM64:
        return Insn.ld_imm64(draw(st.integers(0, 10)), draw(st.integers(0, 2**64 - 1)))
    off = draw(st.sampled_from(sorted(spec.off_values))) if spec.off_values else draw(st.integers(-4, 4))
    imm = draw(st.sampled_from(sorted(spec.imm_values))) if spec.imm_values else draw(st.integers(-4, 200))
    src = draw(st.sampled_from(sorted(spec.src_values))) if spec.src_values else draw(st.integers(0, 10))
    return Insn(opcode, draw(st.integers(0, 10)), src, off, imm)


@given(st.lists(plausible_insn(), min_size=1, max_size=30))
def test_plausible_programs_fail_cleanly_and_agree(insns: list[Insn]) -> None:
    insns = [i for i in insns if check_insn(i) is None] + [Insn(0x95)]
    raw = encode(insns)
    slow, fast = _outcome(raw, "interp"), _outcome(raw, "fast")
    if "budget" not in slow[0] + fast[0]:  # the fast path charges whole blocks
        assert slow == fast
