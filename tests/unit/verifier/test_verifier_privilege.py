"""Privileged relaxations and the limit report of the verifier (issue 12 items 3 and 4).

Linux 6.18 (corpus cases ``uninit_stack_read`` / ``uninit_stack_key_to_helper``, recorded
in tests/corpus/verifier) accepts reading uninitialised stack when the loader has
CAP_PERFMON (``allow_uninit_stack``); without it the read is "invalid read from stack".
"""

from __future__ import annotations

import dataclasses
import errno

import pytest
from test_verifier_direct import _dummy_env
from vasm import EXIT, add, jmp_imm, ldx_dw, mov

from structops.errors import VerifierError
from structops.verifier import ListLog, verify

UNINIT_READ = ldx_dw(0, 10, -8) + EXIT


def test_uninit_stack_read_is_refused_without_perfmon() -> None:
    env = dataclasses.replace(_dummy_env("test_1"), allow_uninit_stack=False)
    with pytest.raises(VerifierError) as info:
        verify(UNINIT_READ, env, ListLog())
    assert info.value.errno == errno.EACCES
    # Linux 6.18 (corpus case sk_uninit_stack_read_unpriv): a read below allocated_stack
    assert "invalid read from stack R10 off=-8 size=8" in info.value.log


def test_uninit_stack_read_is_an_unknown_scalar_with_perfmon() -> None:
    env = dataclasses.replace(_dummy_env("test_1"), allow_uninit_stack=True)
    log = ListLog()
    stats = verify(UNINIT_READ, env, log)
    assert stats.insns_processed == 2
    assert log.text().splitlines()[-1] == (
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"
    )


def test_limit_reports_the_insn_and_the_kernel_wording() -> None:
    """E2BIG names the instruction being processed (the kernel prints it before the message)."""
    code = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(0x55, 1, 0, -2) + EXIT
    with pytest.raises(VerifierError) as info:
        verify(code, _dummy_env(), ListLog(), limit=1000)
    assert info.value.errno == errno.E2BIG
    lines = info.value.log.splitlines()
    assert lines[-1].startswith("processed 1001 insns (limit 1000)")  # the statistics follow
    assert lines[-2] == "BPF program is too large. Processed 1001 insn"
    assert lines[-3].split(":")[0] in ("2", "3")
