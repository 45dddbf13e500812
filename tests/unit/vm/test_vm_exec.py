"""Execution semantics on both engines: ALU edge cases, jumps, memory, atomics, calls, limits.

Every test runs on the reference interpreter and on the translated fast path; expected
values come from the kernel's documented runtime behaviour (RFC 9669 4.x, the kernel's
``x/0 = 0``, ``x%0 = x`` rule, BPF_MAX_LOOPS, MAX_CALL_FRAMES) or from plain arithmetic.
"""

from __future__ import annotations

import pytest

from structops.errors import VMFault
from structops.isa import Insn, assemble
from structops.vm import VM, MemoryFault, Program, ProgramError, run_with_args, run_with_ctx

ENGINES = ["interp", "fast"]


def run_asm(text: str, engine: str, *args: int, vm: VM | None = None, **kw: object) -> int:
    prog = Program.load(assemble(text), vm=vm)
    return prog.run(*args, engine=engine, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("mov %r0, 7\ndiv %r0, 0", 0),  # x / 0 = 0
        ("mov %r0, 7\nmod %r0, 0", 7),  # x % 0 = x
        ("lddw %r0, 0x1ffffffff\nmod32 %r0, 0", 0xFFFFFFFF),  # 32-bit: zero-extended x
        ("lddw %r0, 0x1ffffffff\ndiv32 %r0, 0", 0),
        ("mov %r0, -7\nsdiv %r0, 2", (-3) & (2**64 - 1)),  # truncates toward zero
        ("mov %r0, -7\nsmod %r0, 2", (-1) & (2**64 - 1)),  # sign of the dividend
        ("mov %r0, 7\nsmod %r0, -2", 1),
        ("lddw %r0, 0x8000000000000000\nsdiv %r0, -1", 0x8000000000000000),  # INT_MIN / -1
        ("lddw %r0, 0x8000000000000000\nsmod %r0, -1", 0),
        ("mov32 %r0, -6\nsdiv32 %r0, 4", 0xFFFFFFFF),  # -6/4 = -1, zero-extended
        ("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1", 2),  # shift amount & 63
        ("mov %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1", 2),  # & 31
        ("mov %r0, -16\narsh %r0, 2", (-4) & (2**64 - 1)),
        ("mov32 %r0, -16\narsh32 %r0, 2", 0xFFFFFFFC),
        ("mov %r0, -1\nrsh32 %r0, 28", 0xF),
        ("mov %r0, 5\nneg %r0", (-5) & (2**64 - 1)),
        ("mov %r0, 5\nneg32 %r0", 0xFFFFFFFB),
        ("mov %r0, -1\nadd32 %r0, 1", 0),  # wraps and zero-extends
        ("lddw %r1, 0x80\nmovsx864 %r0, %r1", 0xFFFFFFFFFFFFFF80),
        ("lddw %r1, 0x8000\nmovsx1632 %r0, %r1", 0xFFFF8000),
        ("lddw %r1, 0x80000000\nmovsx3264 %r0, %r1", 0xFFFFFFFF80000000),
        ("lddw %r0, 0x1122334455667788\nbe16 %r0", 0x8877),
        ("lddw %r0, 0x1122334455667788\nle32 %r0", 0x55667788),
        ("lddw %r0, 0x1122334455667788\nswap64 %r0", 0x8877665544332211),
        ("lddw %r0, 0x1122334455667788\nbe32 %r0", 0x88776655),
    ],
)
def test_alu_edge_cases(engine: str, body: str, expected: int) -> None:
    assert run_asm(body + "\nexit", engine) == expected


@pytest.mark.parametrize(
    ("cond", "taken"),
    [
        ("jsgt %r1, -2", True),  # -1 > -2 signed
        ("jgt %r1, -2", True),  # 0xff..ff > 0xff..fe unsigned
        ("jslt %r1, 0", True),
        ("jlt %r1, 0", False),
        ("jset %r1, 0x80", True),
        ("jeq32 %r2, -1", True),  # low 32 bits of r2 are all ones
        ("jeq %r2, -1", False),
        ("jsgt32 %r2, 0", False),  # -1 as 32-bit signed
        ("jne32 %r2, %r1", False),
    ],
)
def test_conditional_jumps(engine: str, cond: str, taken: bool) -> None:
    text = f"mov %r1, -1\nlddw %r2, 0x1ffffffff\nmov %r0, 0\n{cond}, yes\nexit\nyes:\nmov %r0, 1\nexit"
    assert run_asm(text, engine) == int(taken)


def test_gotol_and_loop(engine: str) -> None:
    text = """
    mov %r0, 0
    mov %r1, 10
    loop:
    add %r0, %r1
    sub %r1, 1
    jne %r1, 0, loop
    ja32 end
    mov %r0, 999
    end:
    exit
    """
    assert run_asm(text, engine) == 55


def test_stack_and_sign_extending_loads(engine: str) -> None:
    text = """
    stw [%r10-4], -2
    ldxsw %r0, [%r10-4]
    ldxw %r1, [%r10-4]
    ldxsh %r2, [%r10-4]
    add %r0, %r1
    add %r0, %r2
    exit
    """
    m = 2**64 - 1
    assert run_asm(text, engine) == (-2 + 0xFFFFFFFE - 2) & m


def test_atomics_fetch_and_cmpxchg(engine: str) -> None:
    text = """
    stdw [%r10-8], 10
    mov %r1, 5
    lock fetch add [%r10-8], %r1
    mov %r6, %r1
    mov %r2, 3
    lock or [%r10-8], %r2
    ldxdw %r7, [%r10-8]
    mov %r0, 15
    mov %r3, 99
    lock cmpxchg [%r10-8], %r3
    ldxdw %r8, [%r10-8]
    mov %r4, 1
    lock xchg32 [%r10-8], %r4
    ldxdw %r9, [%r10-8]
    lsh %r6, 48
    lsh %r7, 32
    lsh %r8, 16
    or %r0, %r6
    or %r0, %r7
    or %r0, %r8
    lsh %r4, 8
    or %r0, %r4
    exit
    """
    r0 = run_asm(text, engine)
    assert r0 >> 48 == 10  # fetch_add returned the old value
    assert (r0 >> 32) & 0xFFFF == 15  # 15 | 3
    assert (r0 >> 16) & 0xFFFF == 99  # cmpxchg matched r0 == 15 and stored 99
    assert (r0 >> 8) & 0xFF == 99  # xchg32 returned the old low word
    assert r0 & 0xFF == 15  # cmpxchg left the old value in r0


def test_atomic_fetch_into_r0_keeps_fetched_value(engine: str) -> None:
    text = (
        "stdw [%r10-8], 40\nmov %r0, 2\nlock fetch add [%r10-8], %r0\n"
        "ldxdw %r1, [%r10-8]\nlsh %r1, 8\nor %r0, %r1\nexit"
    )
    assert run_asm(text, engine) == (42 << 8) | 40


def test_load_acquire_store_release(engine: str) -> None:
    text = "mov %r1, 0x1234\nstreldw [%r10-8], %r1\nldacqh %r0, [%r10-8]\nexit"
    assert run_asm(text, engine) == 0x1234


def test_may_goto_budget(engine: str) -> None:
    text = """
    mov %r0, 0
    loop:
    may_goto out
    add %r0, 1
    ja loop
    out:
    exit
    """
    vm = VM(max_loops=50)
    assert run_asm(text, engine, vm=vm) == 50


def test_bpf_to_bpf_call_preserves_callee_saved(engine: str) -> None:
    text = """
    mov %r6, 7
    mov %r1, 20
    call local double
    add %r0, %r6
    exit
    double:
    mov %r6, 0
    stdw [%r10-8], 1
    mov %r0, %r1
    add %r0, %r1
    exit
    """
    assert run_asm(text, engine) == 47


def test_call_depth_limit(engine: str) -> None:
    text = "call local f\nexit\nf:\ncall local f\nexit"
    with pytest.raises(VMFault, match="deeper than 8"):
        run_asm(text, engine)


def test_runaway_program_hits_budget(engine: str) -> None:
    with pytest.raises(VMFault, match="budget") as info:
        run_asm("loop:\nja loop", engine, insn_limit=1000)
    assert info.value.pc == 0


def test_memory_fault_reports_pc_and_address(engine: str) -> None:
    text = "mov %r0, 0\nmov %r1, 16\nldxdw %r0, [%r1+8]\nexit"
    with pytest.raises(MemoryFault, match="NULL") as info:
        run_asm(text, engine)
    assert info.value.pc == 2
    assert info.value.addr == 24


def test_stack_out_of_frame_faults(engine: str) -> None:
    with pytest.raises(MemoryFault) as info:
        run_asm("ldxdw %r0, [%r10+0]\nexit", engine)
    assert info.value.pc == 0


def test_run_with_ctx_copies_in_and_out(engine: str) -> None:
    prog = Program.load(assemble("ldxw %r0, [%r1]\nadd %r0, 1\nstxw [%r1+4], %r0\nexit"))
    res = run_with_ctx(prog, (41).to_bytes(4, "little") + bytes(4), engine=engine)  # type: ignore[arg-type]
    assert res.retval == 42
    assert res.ctx_out[4:] == (42).to_bytes(4, "little")


def test_run_with_args_is_read_only(engine: str) -> None:
    prog = Program.load(assemble("ldxdw %r0, [%r1+8]\nldxdw %r2, [%r1]\nsub %r0, %r2\nexit"))
    assert run_with_args(prog, [3, 10], engine=engine) == 7  # type: ignore[arg-type]
    writer = Program.load(assemble("stdw [%r1], 1\nmov %r0, 0\nexit"))
    with pytest.raises(MemoryFault, match="not writable"):
        run_with_args(writer, [3], engine=engine)  # type: ignore[arg-type]


def test_legacy_packet_load(engine: str) -> None:
    prog = Program.load([Insn(0x28, imm=2), Insn(0x95)])  # r0 = ntohs(*(u16 *)skb[2])
    assert prog.run(engine=engine, packet=b"\x00\x00\x12\x34") == 0x1234  # type: ignore[arg-type]
    assert prog.run(engine=engine, packet=b"\x00") == 0  # type: ignore[arg-type]  # out of bounds: r0 = 0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("mov %r10, 1\nexit", "r10 is read only"),
        ("ja +5\nexit", "jump out of range"),
        ("mov %r0, 1", "not an exit or jmp"),
        ("call 9999\nexit", "unknown#9999"),
        ("call runtime 77\nexit", "btf_id 77"),
        ("call local f\nexit\nf:\nja +2\nexit", "jump out of range"),
    ],
)
def test_load_time_rejections(text: str, match: str) -> None:
    with pytest.raises(ProgramError, match=match):
        Program.load(assemble(text))


def test_empty_program_rejected() -> None:
    with pytest.raises(ProgramError):
        Program.load([])


@pytest.mark.parametrize("n", [5, 150])
def test_deeply_nested_forward_branches(engine: str, n: int) -> None:
    """Many nested skips (a compiler's if-chain) still translate; CPython caps indentation."""
    insns = [Insn(0xB7, 0, 0, 0, 0)]
    insns += [Insn(0x15, 1, 0, n - i, i) for i in range(n)]  # if r1 == i goto end
    insns += [Insn(0x07, 0, 0, 0, 1), Insn(0x95)]
    prog = Program.load(insns)
    assert prog.run(n - 1, engine=engine) == 0  # type: ignore[arg-type]
    assert prog.run(n + 7, engine=engine) == 1  # type: ignore[arg-type]
