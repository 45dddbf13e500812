"""Differential test_run of tc and XDP programs: the real kernel and the embedded kernel run
the objects of tests/corpus/testrun on the same packets and contexts and must return the
same errno, retval, data_out and ctx_out (issue 12).  Also checks that the real kernel
still returns what ``linux-6.18.json`` recorded (the embedded replay's reference).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "testrun"
sys.path.insert(0, str(CORPUS))

from testrun_cases import CASES, Case, load_programs, run_case  # noqa: E402

DOC = json.loads((CORPUS / "linux-6.18.json").read_text())


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


pytestmark = [pytest.mark.linux, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


@pytest.fixture(scope="module")
def kernels() -> Any:
    from structops.kernel.emulated import EmulatedKernel
    from structops.linux import LinuxKernel

    linux, emb = LinuxKernel(), EmulatedKernel()
    colls, linux_fds = load_programs(linux)
    emb_colls, emb_fds = load_programs(emb)
    yield (linux, linux_fds), (emb, emb_fds)
    for coll in colls + emb_colls:
        coll.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_result_on_both_kernels(kernels: Any, case: Case) -> None:
    (linux, lfds), (emb, efds) = kernels
    real = run_case(linux, lfds[case.prog], case)
    assert run_case(emb, efds[case.prog], case) == real
    if platform.release() == DOC["kernel"]:
        assert real == DOC["results"][case.name]
