"""Embedded replay of the verifier corpus against Linux 6.18's recorded verdicts (issue 12 item 5).

``tests/corpus/verifier/linux-6.18.json`` holds what this machine's kernel said for every
program of ``tests/corpus/verifier/cases.py`` (``record.py`` wrote it); each case is
loaded on the embedded kernel the same way and must give the same verdict, errno,
failing instruction and last log line.  Cases where the embedded verifier still differs
are listed in :data:`DIVERGES` with the reason; they run as strict xfails, so fixing one
turns its test red until the entry is removed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "verifier"
sys.path.insert(0, str(CORPUS))

from cases import CASES, Case  # noqa: E402
from diverges import DIVERGES  # noqa: E402
from record import kernel_facts, run_case  # noqa: E402

from structops.kernel.emulated import EmulatedKernel  # noqa: E402

RECORDED: dict[str, dict[str, Any]] = json.loads((CORPUS / "linux-6.18.json").read_text())["cases"]


@pytest.fixture(scope="module")
def embedded() -> tuple[EmulatedKernel, dict[str, int]]:
    k = EmulatedKernel()
    return k, kernel_facts(k)


#: Cases that run a million instructions through the verifier (benchmarks/verifier_speed.py
#: times them): replayed only with STRUCTOPS_LONG=1.
LONG = {"loop_hits_1m_limit"}


def _params() -> list[Any]:
    out = []
    for case in CASES:
        marks = []
        if case.name in LONG and not os.environ.get("STRUCTOPS_LONG"):
            marks.append(pytest.mark.skip(reason="a 1M-insn verification; set STRUCTOPS_LONG=1"))
        if case.name in DIVERGES:
            marks.append(pytest.mark.xfail(strict=True, reason=DIVERGES[case.name][1]))
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def test_every_case_is_recorded() -> None:
    assert {c.name for c in CASES} == set(RECORDED)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_embedded_matches_linux(case: Case, embedded: tuple[EmulatedKernel, dict[str, int]]) -> None:
    k, facts = embedded
    got = run_case(k, case, facts)
    want = RECORDED[case.name]
    assert got["verdict"] == want["verdict"], got
    if want["verdict"] == "reject":
        assert (got["errno"], got["insn"], got["message"]) == (want["errno"], want["insn"], want["message"])
    elif case.obj is None:  # C objects go through the loader, which keeps no log of an accepted load
        assert got["message"].startswith("processed ")


def test_divergence_list_names_real_cases() -> None:
    assert set(DIVERGES) <= {c.name for c in CASES}


@pytest.mark.parametrize(
    "name", ["ret0", "bounded_loop_100", "loop_1000_iterations", "nested_loops", "sk_may_goto_loop"]
)
def test_verified_insns_is_the_processed_count(name: str, embedded: tuple[EmulatedKernel, dict[str, int]]) -> None:
    """Issue 12 item 5: prog info's verified_insns is the "processed N insns" of the summary
    line, and for these loops N is the number Linux 6.18 printed (the may_goto loop converges
    when a deeper may_goto visit finds the same state, as in the kernel's is_state_visited)."""
    from record import verified_insns

    k, facts = embedded
    case = next(c for c in CASES if c.name == name)
    processed = int(RECORDED[name]["message"].split()[1])
    assert verified_insns(k, case, facts) == processed


def test_packet_compare_gives_the_branch_that_proves_the_range() -> None:
    """``try_match_pkt_pointers`` as Linux 6.18 (corpus tc_pkt_in_range / *_pkt_jlt_check):
    ``pkt+14 > pkt_end`` proves 14 bytes on the fall-through, ``pkt_end < pkt+8`` proves 8
    there too, ``pkt+8 < pkt_end`` proves 9 on the taken side; copies of the pointer's kind
    without a variable part get the range."""
    from structops.verifier.memory import mark_packet_range, packet_compare
    from structops.verifier.state import Frame, Reg, RegType, State

    pkt, end = Reg(RegType.PTR_TO_PACKET, 0, 0), Reg(RegType.PTR_TO_PACKET_END, 0, 0)
    p14, p8 = Reg(RegType.PTR_TO_PACKET, 0, 0, off=14), Reg(RegType.PTR_TO_PACKET, 0, 0, off=8)
    assert packet_compare(0x20, p14, end) == (False, p14, False)  # jgt: fall-through
    assert packet_compare(0xA0, end, p8) == (False, p8, False)  # jlt swapped: fall-through
    assert packet_compare(0xA0, p8, end) == (True, p8, True)  # jlt: taken, right-open
    assert packet_compare(0x10, p8, end) is None and packet_compare(0x20, pkt, pkt) is None
    var = Reg(RegType.PTR_TO_PACKET, 0, 0, vmin=0, vmax=7)
    st = State([Frame([pkt, p14, end, var] + [Reg(RegType.NOT_INIT, 0, 0)] * 7, {})])
    mark_packet_range(st, p14, False)
    assert [r.rng for r in st.cur.regs[:4]] == [14, 14, 0, 0]
    mark_packet_range(st, p8, True)
    assert st.cur.regs[0].rng == 14
