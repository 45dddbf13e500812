"""Speculative paths of a loader without CAP_PERFMON, as Linux 6.18 (issue 12 item 2).

Raw programs driven through the verifier core with the unprivileged flags (no
``allow_ptr_leaks`` = no ``bypass_spec_v1``/``v4``, no ``bpf_capable``), so the barrier
marks (``nospec``, ``nospec_result``) and the processed-instruction counts can be
inspected; the corpus's ``spec_*`` cases (``tests/corpus/verifier/cases_spec.py``) hold
the same behaviours recorded from this machine's kernel.
"""

from __future__ import annotations

import errno
from dataclasses import replace

from test_verifier_direct import _dummy_env
from vasm import EXIT, JEQ, insn, jmp_imm, mov, movr

from structops.verifier import ListLog
from structops.verifier.core import Verifier
from structops.verifier.env import ProgEnv
from structops.verifier.speculative import recover, stack_write_needs_barrier
from structops.verifier.state import Frame, Reg, RegType, State, const, state_subsumes, unknown


def _env(priv: bool) -> ProgEnv:
    env = _dummy_env()
    if priv:
        return env
    return replace(env, allow_ptr_leaks=False, bpf_capable=False, allow_uninit_stack=False)


def _run(code: bytes, priv: bool) -> Verifier:
    v = Verifier(code, _env(priv), ListLog())
    v.run()
    return v


#: r1 = 0; if r1 == 0 goto ok; <dead>; ok: r0 = 0; exit
def _dead_side(dead: bytes) -> bytes:
    return mov(1, 0) + jmp_imm(JEQ, 1, 0, len(dead) // 8) + dead + mov(0, 0) + EXIT


def test_decided_jump_explores_its_dead_side_speculatively() -> None:
    """sanitize_speculative_path: the dead side runs with r1 unknown; its bad load only
    plants a barrier (EACCES is recoverable) and stays dead code for the real paths."""
    code = _dead_side(insn(0x79, 0, 1) + EXIT)  # r0 = *(u64 *)(r1 + 0)
    unpriv = _run(code, priv=False)
    assert unpriv.stats.insns_processed == 5
    assert unpriv.nospec[2] and not unpriv.reached[2]
    assert _run(code, priv=True).stats.insns_processed == 4


def test_dead_side_returning_a_pointer_is_only_a_barrier() -> None:
    code = _dead_side(movr(0, 10) + EXIT)
    v = _run(code, priv=False)
    assert v.stats.insns_processed == 6 and v.nospec[3]


def test_store_to_fresh_stack_ends_the_speculative_path() -> None:
    """nospec_result (Spectre v4): a speculative path stops after a store into bytes never
    written; the bad load after it is never reached."""
    store = insn(0x7A, 10, 0, -8, 0)  # *(u64 *)(r10 - 8) = 0
    v = _run(_dead_side(store + insn(0x79, 0, 1) + EXIT), priv=False)
    assert v.stats.insns_processed == 5
    assert v.nospec_result[2] and not v.nospec[3]


def test_only_eperm_eacces_einval_are_recoverable() -> None:
    v = Verifier(_dead_side(EXIT), _env(False), ListLog())
    v._alu_aux = {3: (1, 0)}  # type: ignore[attr-defined]
    assert not recover(v, 3, errno.E2BIG) and not v.nospec[3]
    assert not recover(v, 3, errno.EFAULT)
    assert recover(v, 3, errno.EACCES) and v.nospec[3]
    assert 3 not in v._alu_aux  # type: ignore[attr-defined]
    assert recover(v, 2, errno.EPERM) and recover(v, 1, errno.EINVAL)


def _state(r1: Reg, spec: bool) -> State:
    regs = [unknown()] * 11
    regs[1] = r1
    return State([Frame(regs, {})], spec=spec)


def test_speculative_state_never_prunes_a_real_one() -> None:
    wide, narrow = unknown(0, 255), const(5)
    assert state_subsumes(_state(wide, False), _state(narrow, True))
    assert not state_subsumes(_state(wide, True), _state(narrow, False))
    assert state_subsumes(_state(wide, True), _state(narrow, True))


def test_explore_alu_limits_compares_scalars_exactly() -> None:
    wide, narrow = unknown(0, 255), const(5)
    assert state_subsumes(_state(wide, False), _state(narrow, False))
    assert not state_subsumes(_state(wide, False), _state(narrow, False), exact=True)
    assert state_subsumes(_state(narrow, False), _state(narrow, False), exact=True)


def test_stack_store_barrier_rules() -> None:
    fp = Reg(RegType.PTR_TO_STACK, 0, 0, obj=0)
    st = State([Frame([unknown()] * 11, {})])
    assert stack_write_needs_barrier(st, fp, -8, 8, None)  # never written
    st.cur.stack[0] = 0xFF  # eight written bytes
    assert not stack_write_needs_barrier(st, fp, -8, 8, const(1))
    assert stack_write_needs_barrier(st, fp, -8, 8, fp)  # spilling a pointer
    st.cur.stack[0] = 0x0F  # fp-8..fp-5 written: the slot's high bytes are looked at
    assert stack_write_needs_barrier(st, fp, -8, 4, None)
    st.cur.stack[0] = 0xF0
    assert not stack_write_needs_barrier(st, fp, -8, 4, None)
    st.cur.stack[0] = fp  # a spilled pointer
    assert stack_write_needs_barrier(st, fp, -8, 8, const(0))
    assert not stack_write_needs_barrier(st, replace(fp, vmin=-8, vmax=0), -8, 8, None)  # variable offset
