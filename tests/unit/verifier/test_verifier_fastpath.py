"""The verifier's shortcuts change its speed, never its answers (issue 12, verifier speed).

``structops.verifier.fastpath`` handles plain scalar ALU ops and non-forking jumps without
the general per-insn dispatch, and walks ``check_cfg``'s reachability over straight-line
runs.  Every program must get the same verdict, errno, message, log and processed-insn
count with the shortcuts switched off.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_verifier_direct import _dummy_env, insn_strategy  # type: ignore[import-not-found]
from vasm import EXIT, JNE, add, jmp_imm, ldx_dw, mov

from structops.errors import VerifierError
from structops.isa.scan import insn_starts, slots_with_opcode
from structops.verifier import ListLog, fastpath, verify
from structops.verifier.subprogs import sanitize_dead_code
from structops.verifier.tnum import tadd, tmul


def _outcome(code: bytes, limit: int = 3000) -> tuple[object, ...]:
    log = ListLog()
    try:
        stats = verify(code, _dummy_env(), log, limit=limit)
    except VerifierError as exc:
        return ("reject", exc.errno, str(exc), exc.log)
    return ("ok", stats.insns_processed, stats.total_states, stats.max_states_per_insn, log.text())


def _both(code: bytes, limit: int = 3000) -> tuple[tuple[object, ...], tuple[object, ...]]:
    fast = _outcome(code, limit)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastpath, "handlers", lambda code: [None] * len(code))
        mp.setattr(fastpath, "reach", lambda *args: None)
        slow = _outcome(code, limit)
    return fast, slow


#: Mostly well-formed insns (ALU, jumps, loads, calls), one in ~31 with a reserved field set.
_insn = insn_strategy((-16, -8, -2, -1, 0, 1, 2, 8), (0, 1, 2, 5, 64, -1, -8), 4, reserved_one_in=31)


@st.composite
def _programs(draw: st.DrawFn) -> bytes:
    # r6: an unknown scalar (the ctx's a1), r0-r3 constants: both kinds of operand
    init = ldx_dw(6, 1, 8) + mov(0, 0) + mov(1, 0) + mov(2, 7) + mov(3, 0)
    body = b"".join(draw(st.lists(_insn, min_size=1, max_size=16)))
    return init + body + mov(0, 0) + EXIT


@settings(max_examples=150, deadline=None)
@given(_programs())
def test_random_programs_same_outcome_without_shortcuts(code: bytes) -> None:
    fast, slow = _both(code)
    assert fast == slow


def test_counted_loop_same_count_and_e2big_message() -> None:
    """A loop of constants (every iteration a shortcut) stops at the same processed insn."""
    code = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(JNE, 1, 0, -2) + EXIT
    fast, slow = _both(code, limit=5000)
    assert fast == slow
    assert fast[0] == "reject" and "BPF program is too large. Processed 5001 insn" in str(fast[3])
    bounded = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(0xA0, 1, 300, -2) + EXIT
    fast, slow = _both(bounded, limit=5000)
    assert fast == slow and fast[0] == "ok"


def test_forking_branches_and_unknown_scalars_same_states() -> None:
    body = ldx_dw(2, 1, 8)
    for _ in range(8):
        body += jmp_imm(0x10, 2, 7, 1) + mov(3, 1)
    code = body + add(2, 3) + mov(0, 0) + EXIT
    fast, slow = _both(code)
    assert fast == slow and fast[0] == "ok"


def test_first_bad_jump_is_the_walks() -> None:
    """Two bad jumps: ``check_cfg`` names the one its depth-first walk meets first."""
    lddw = struct.pack("<BBhi", 0x18, 1, 0, 5) + struct.pack("<BBhi", 0, 0, 0, 0)
    code = jmp_imm(JNE, 1, 0, 2) + jmp_imm(JNE, 1, 0, 50) + mov(0, 0) + lddw + jmp_imm(JNE, 1, 0, -3) + EXIT
    fast, slow = _both(code)
    assert fast == slow and fast[0] == "reject"
    unreachable = mov(0, 0) + struct.pack("<BBhi", 0x05, 0, 1, 0) + mov(0, 1) + EXIT
    fast, slow = _both(unreachable)
    assert fast == slow and "unreachable insn 2" in str(fast[2])


def test_insn_scans_skip_ld_imm64_second_half() -> None:
    call = struct.pack("<BBhi", 0x85, 0, 0, 1)
    # a ld_imm64 whose second half looks like a call, then a real call
    code = struct.pack("<BBhi", 0x18, 1, 0, 0) + call + call + EXIT
    assert list(insn_starts(code, b"\x85")) == [2]
    assert list(insn_starts(code, b"\x18\x85")) == [0, 2]
    assert list(slots_with_opcode(code, b"\x85")) == [1, 2]
    assert list(slots_with_opcode(code + b"\x85", b"\x85")) == [1, 2]  # a partial slot is no slot


def test_dead_code_from_flags_or_set() -> None:
    lddw = struct.pack("<BBhi", 0x18, 1, 0, 5) + struct.pack("<BBhi", 0, 0, 0, 0)
    code = mov(0, 0) + lddw + mov(0, 1) + EXIT
    reached = bytearray([1, 1, 0, 0, 1])
    out = sanitize_dead_code(code, reached)
    assert out == sanitize_dead_code(code, {0, 1, 4})
    assert out[:24] == code[:24] and out[24:32] == struct.pack("<BBhi", 0x05, 0, -1, 0)
    assert sanitize_dead_code(code, bytearray([1, 1, 0, 1, 1])) == code


def _tmul_reference(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """``tnum_mul`` step by step (every partial added, as before the shortcut)."""
    m64 = (1 << 64) - 1
    acc_v = (a[0] * b[0]) & m64
    acc_m = (0, 0)
    av, am = a
    bt = b
    while av or am:
        if av & 1:
            acc_m = tadd(acc_m, (0, bt[1]))
        elif am & 1:
            acc_m = tadd(acc_m, (0, bt[0] | bt[1]))
        av >>= 1
        am >>= 1
        bt = ((bt[0] << 1) & m64, (bt[1] << 1) & m64)
    return tadd((acc_v, 0), acc_m)


_TNUMS = st.tuples(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1)).map(lambda t: (t[0] & ~t[1], t[1]))
_SMALL = st.tuples(st.integers(0, 255), st.integers(0, 15)).map(lambda t: (t[0] & ~t[1], t[1]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_TNUMS, _SMALL), st.one_of(_TNUMS, _SMALL))
def test_tmul_skips_known_partials_same_result(a: tuple[int, int], b: tuple[int, int]) -> None:
    assert tmul(a, b) == _tmul_reference(a, b)
