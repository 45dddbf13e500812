"""Big programs are translated on their first run, not at load (issue 12, verifier speed).

Loading checks everything it checked before (structure, r10, jumps, calls); only the
translation to Python waits, and nothing a caller sees depends on when it happens.
"""

from __future__ import annotations

import struct

import pytest

from structops.errors import VMFault
from structops.isa.codec import decode
from structops.isa.insn import IsaError
from structops.vm import Program, ProgramError, jit, run_with_args
from structops.vm.program import EAGER_TRANSLATE_SLOTS

MOV_R0_1 = struct.pack("<BBhi", 0xB7, 0, 0, 1)
ADD_R0_1 = struct.pack("<BBhi", 0x07, 0, 0, 1)
EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)


def _big(n: int = EAGER_TRANSLATE_SLOTS + 10) -> bytes:
    return MOV_R0_1 + ADD_R0_1 * (n - 2) + EXIT


def test_big_program_translated_on_first_run() -> None:
    jit.clear_cache()
    prog = Program.load(_big(), name="big")
    assert jit.cache_stats()["misses"] == 0  # loaded, not translated yet
    assert prog.run() == EAGER_TRANSLATE_SLOTS + 9
    assert jit.cache_stats()["misses"] == 1
    assert prog.run() == EAGER_TRANSLATE_SLOTS + 9 and jit.cache_stats()["misses"] == 1
    assert run_with_args(prog, [1, 2]) == EAGER_TRANSLATE_SLOTS + 9


def test_big_program_source_on_demand_and_small_ones_at_load() -> None:
    jit.clear_cache()
    big = Program.load(_big(), name="big_src")
    assert "def f0" in big.jit_source  # asking for the translation makes it
    assert jit.cache_stats()["misses"] == 1
    Program.load(_big(8), name="small")
    assert jit.cache_stats()["misses"] == 2  # small: at load, as before


def test_big_program_fault_reports_pc() -> None:
    n = EAGER_TRANSLATE_SLOTS + 4
    tail = struct.pack("<BBhi", 0xB7, 1, 0, 4096) + struct.pack("<BBhi", 0x79, 0x10, 0, 0) + EXIT
    code = MOV_R0_1 + ADD_R0_1 * (n - 4) + tail
    prog = Program.load(code, name="big_fault")
    with pytest.raises(VMFault) as fault:
        prog.run()
    assert fault.value.pc == n - 2


def test_big_program_load_errors_stay_at_load() -> None:
    bad_r10 = MOV_R0_1 * EAGER_TRANSLATE_SLOTS + struct.pack("<BBhi", 0xB7, 10, 0, 1) + EXIT
    with pytest.raises(ProgramError, match="r10 is read only"):
        Program.load(bad_r10)
    bad_jump = MOV_R0_1 * EAGER_TRANSLATE_SLOTS + struct.pack("<BBhi", 0x05, 0, 100, 0) + EXIT
    with pytest.raises(ProgramError, match="jump out of range"):
        Program.load(bad_jump)


def test_decode_shares_equal_slots_and_reports_first_bad_slot() -> None:
    insns = decode(MOV_R0_1 * 3 + ADD_R0_1 + EXIT)
    assert insns[0] is insns[1] is insns[2] and [i.opcode for i in insns] == [0xB7] * 3 + [0x07, 0x95]
    with pytest.raises(IsaError, match="insn 2: "):
        decode(MOV_R0_1 * 2 + struct.pack("<BBhi", 0xB7, 0, 0, 1)[:1] + b"\x0b" + bytes(6) + EXIT)
    with_ld = decode(MOV_R0_1 + struct.pack("<BBhi", 0x18, 1, 0, 5) + struct.pack("<BBhi", 0, 0, 0, 7) + EXIT)
    assert [i.opcode for i in with_ld] == [0xB7, 0x18, 0x95] and with_ld[1].imm64 == (7 << 32) | 5
