"""Scalar precision tracking, backtracking and pruning as Linux 6.18 (issue 12 item 2).

Raw instruction programs on ``bpf_dummy_ops.test_2`` driven through the verifier core, so
the explored states (checkpoints) and their ``precise`` marks can be inspected, and the
corpus's precision cases (``tests/corpus/verifier/cases_precision.py``) whose
processed-instruction counts were recorded from this machine's kernel (re-checked on the
running kernel by ``tests/kernel/test_verifier_corpus_real.py``).

Every program forks on an unknown argument and gives r7 a different constant on each
side; the fall-through side crosses two jumps and eight instructions before the join, so
a state is recorded there (the kernel's heuristic), and the taken side arrives second.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_verifier_direct import _dummy_env
from vasm import EXIT, JEQ, call_sub, insn, jmp_imm, ldx_dw, mov, movr, stx_dw

from structops.verifier import ListLog
from structops.verifier.core import Verifier
from structops.verifier.state import RegType

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "verifier"
RECORDED = json.loads((CORPUS / "linux-6.18.json").read_text())["cases"]


def _fork(pre: bytes = b"") -> tuple[bytes, int]:
    """r2, r3 = unknown arguments, r7 = 0/1 on the two sides; returns (code, pc of the join)."""
    head = ldx_dw(2, 1, 8) + ldx_dw(3, 1, 16) + mov(7, 0) + pre
    pad = mov(7, 1) + b"".join(mov(4, n) for n in range(6)) + jmp_imm(JEQ, 3, 0, 0)
    code = head + jmp_imm(JEQ, 2, 0, len(pad) // 8) + pad
    return code, len(code) // 8


def _run(code: bytes, *, capable: bool = True) -> Verifier:
    v = Verifier(code, replace(_dummy_env(), bpf_capable=capable, allow_uninit_stack=capable), ListLog())
    v.run()
    return v


def _join_state(v: Verifier, pc: int) -> object:
    """The state the fall-through side (explored first) left at the join."""
    return v._visited[pc][0].state


def test_an_imprecise_scalar_lets_the_second_side_be_pruned() -> None:
    """r7 is only stored after the join: imprecise in the explored state, so the taken side
    (r7 = 0) is pruned at the join; with every scalar precise (no CAP_BPF) it is not."""
    code, join = _fork()
    code += stx_dw(10, 7, -8) + mov(0, 0) + EXIT
    v = _run(code)
    st = _join_state(v, join)
    assert not st.cur.regs[7].precise  # type: ignore[attr-defined]
    all_precise = _run(code, capable=False)
    assert v.stats.insns_processed < all_precise.stats.insns_processed
    assert all_precise.stats.insns_processed - v.stats.insns_processed == 2  # the join's tail, again


def test_a_branch_decided_by_a_scalar_makes_it_precise_and_keeps_the_state() -> None:
    """``if r7 == 5`` after the join is decided by the known r7: r7 is marked precise in the
    explored state, which then does not cover the taken side (r7 = 0): it runs to the end."""
    code, join = _fork()
    tail = jmp_imm(JEQ, 7, 5, 2) + mov(0, 0) + EXIT + mov(0, 1) + EXIT
    v = _run(code + tail)
    assert _join_state(v, join).cur.regs[7].precise  # type: ignore[attr-defined]
    pruned = _run(code + stx_dw(10, 7, -8) + mov(0, 0) + EXIT)
    assert v.stats.insns_processed > pruned.stats.insns_processed


def test_backtracking_follows_a_fill_to_its_spill() -> None:
    """A constant spilled before the fork and filled after the join decides a branch: the
    need goes fill -> stack slot -> spill -> r8 = 2, so the slot (fp-16) is precise at the
    join, r7 is not, and the taken side is pruned."""
    code, join = _fork(mov(8, 2) + stx_dw(10, 8, -16))
    tail = ldx_dw(2, 10, -16) + mov(0, 0) + jmp_imm(JEQ, 2, 2, 1) + EXIT + mov(0, 1) + EXIT
    v = _run(code + tail)
    st = _join_state(v, join)
    slot = st.cur.stack[1]  # type: ignore[attr-defined]
    assert slot.type == RegType.SCALAR and slot.precise
    # r8, whose value reached the slot through the spill, is not needed in the register
    assert not st.cur.regs[7].precise and not st.cur.regs[8].precise  # type: ignore[attr-defined]
    assert v.stats.insns_processed < _run(code + tail, capable=False).stats.insns_processed


def test_backtracking_goes_through_a_bpf_to_bpf_call() -> None:
    """The callee decides a branch on its second argument, which the caller set from r9 = 3
    before the fork: backtracking leaves the callee at its first insn, continues in the
    caller's frame (r2 <- r9), marks r9 precise at the join and r7 not: pruned there."""
    code, join = _fork(mov(9, 3))
    callee = jmp_imm(JEQ, 2, 3, 1) + mov(0, 1) + mov(0, 0) + EXIT
    tail = movr(2, 9) + call_sub(3) + stx_dw(10, 7, -8) + mov(0, 0) + EXIT
    v = _run(code + tail + callee)
    st = _join_state(v, join)
    assert st.cur.regs[9].precise and not st.cur.regs[7].precise  # type: ignore[attr-defined]
    kept = _run(code + movr(2, 7) + call_sub(3) + stx_dw(10, 7, -8) + mov(0, 0) + EXIT + callee)
    assert _join_state(kept, join).cur.regs[7].precise  # type: ignore[attr-defined]
    assert kept.stats.insns_processed > v.stats.insns_processed


def test_a_pointer_moved_by_a_scalar_marks_it_precise() -> None:
    """``r1 = r10; r1 += r8`` (pointer + scalar): r8 (a constant set before the fork, via r6)
    is marked precise back through ``r8 = r6``; a scalar added to a scalar is not."""
    code, join = _fork(mov(6, -8))
    tail = movr(8, 6) + movr(1, 10) + insn(0x0F, 1, 8) + mov(0, 0) + stx_dw(1, 0, 0) + EXIT
    v = _run(code + tail)
    st = _join_state(v, join)
    assert st.cur.regs[6].precise and not st.cur.regs[7].precise  # type: ignore[attr-defined]
    scalars = _run(code + movr(8, 6) + insn(0x0F, 8, 7) + stx_dw(10, 8, -8) + mov(0, 0) + EXIT)
    assert not _join_state(scalars, join).cur.regs[6].precise  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(n for n in RECORDED if n.startswith("prec_")))
def test_precision_cases_process_as_many_insns_as_linux(name: str) -> None:
    """The corpus's precision cases: Linux 6.18's processed-insn count, exactly (pruned or
    kept at the join as the kernel decided)."""
    sys.path.insert(0, str(CORPUS))
    from cases import CASES  # type: ignore[import-not-found]
    from record import kernel_facts, verified_insns  # type: ignore[import-not-found]

    from structops.kernel.emulated import EmulatedKernel

    k = EmulatedKernel()
    case = next(c for c in CASES if c.name == name)
    assert verified_insns(k, case, kernel_facts(k)) == int(RECORDED[name]["message"].split()[1])


def _accepted_raw_cases() -> tuple[list[tuple[Any, dict[str, Any]]], Any, dict[str, int]]:
    """Every accepted raw-instruction corpus case with Linux's record (the 1M-insn loop left
    out), an embedded kernel and its facts."""
    sys.path.insert(0, str(CORPUS))
    from cases import CASES
    from record import kernel_facts

    from structops.kernel.emulated import EmulatedKernel

    k = EmulatedKernel()
    out = []
    for case in CASES:
        want = RECORDED[case.name]
        if case.obj is not None or want["verdict"] != "accept" or not want["message"].startswith("processed"):
            continue
        if case.name != "loop_hits_1m_limit":
            out.append((case, want))
    assert len(out) >= 269
    return out, k, kernel_facts(k)


def test_processed_insns_match_linux_on_the_corpus() -> None:
    """Issue 12 item 2: the "processed N insns" of every accepted raw-instruction corpus case
    against Linux 6.18's summary line: all match exactly (with precision tracking, the
    speculative paths of unprivileged loaders and linked scalars; 155 of 160 before them)."""
    from record import verified_insns

    cases, k, facts = _accepted_raw_cases()
    differ = [c.name for c, want in cases if verified_insns(k, c, facts) != int(want["message"].split()[1])]
    assert not differ, differ


def test_summary_lines_match_linux_on_the_corpus() -> None:
    """The whole "processed N insns ... max_states_per_insn M total_states T peak_states P"
    line of every accepted raw-instruction corpus case equals Linux 6.18's: ``M`` counts the
    states a visit that did not prune found in its hash bucket (instruction xor call site,
    modulo the program length) before adding its own; a subprogram's entry is a pruning
    point (a branch target of its call); ``P`` counts states alive, evicted ones until
    freed, plus the loop backedge states kept for mark propagation."""
    from record import run_case

    cases, k, facts = _accepted_raw_cases()
    differ = [c.name for c, want in cases if run_case(k, c, facts)["message"] != want["message"]]
    assert not differ, differ
