"""Real-kernel re-check of the verifier corpus' recorded verdicts (issue 12 item 5).

Where the real kernel is available, each case of ``tests/corpus/verifier`` is loaded again
and must give what ``linux-6.18.json`` recorded (verdict, errno, failing insn, log line);
a kernel other than the recorded release skips with the reason.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "verifier"
sys.path.insert(0, str(CORPUS))

from cases import CASES, Case  # noqa: E402
from record import kernel_facts, run_case  # noqa: E402

DOC = json.loads((CORPUS / "linux-6.18.json").read_text())


def _linux() -> Any:
    if os.geteuid() != 0 or not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("needs root and kernel BTF (/sys/kernel/btf/vmlinux)")
    if platform.release() != DOC["kernel"]:
        pytest.skip(f"recorded on Linux {DOC['kernel']}, running {platform.release()}")
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.fixture(scope="module")
def linux() -> tuple[Any, dict[str, int]]:
    k = _linux()
    return k, kernel_facts(k)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_linux_still_gives_the_recorded_verdict(case: Case, linux: tuple[Any, dict[str, int]]) -> None:
    k, facts = linux
    got = run_case(k, case, facts)
    want = DOC["cases"][case.name]
    if want["verdict"] == "accept":
        assert got["verdict"] == "accept", got
    else:
        assert got == want


def test_linux_verified_insns_is_the_processed_count(linux: tuple[Any, dict[str, int]]) -> None:
    from record import verified_insns

    k, facts = linux
    case = next(c for c in CASES if c.name == "bounded_loop_100")
    assert verified_insns(k, case, facts) == int(DOC["cases"][case.name]["message"].split()[1])
