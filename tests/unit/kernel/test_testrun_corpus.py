"""Embedded replay of the test_run packet corpus (tests/corpus/testrun, issue 12).

The tc, socket filter and XDP objects there run on ``data_in`` packets with and without contexts,
repeats and truncated outputs; ``linux-6.18.json`` holds what Linux 6.18 returned for
each case on the recording machine (errno, retval, data_size_out, data_out, ctx_out).
The embedded kernel must return the same.  ``tests/kernel/test_testrun_packet_real.py``
re-runs the corpus on the real kernel where it is available.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "testrun"
sys.path.insert(0, str(CORPUS))

from testrun_cases import CASES, Case, load_programs, run_case  # noqa: E402

RECORDED: dict[str, Any] = json.loads((CORPUS / "linux-6.18.json").read_text())["results"]


@pytest.fixture(scope="module")
def embedded() -> Any:
    from structops.kernel.emulated import EmulatedKernel

    kernel = EmulatedKernel()
    colls, fds = load_programs(kernel)
    yield kernel, fds
    for coll in colls:  # held open until here: their fds are the programs'
        coll.close()


def test_every_case_is_recorded() -> None:
    assert sorted(RECORDED) == sorted(c.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_embedded_matches_linux(embedded: tuple[Any, dict[str, int]], case: Case) -> None:
    kernel, fds = embedded
    assert run_case(kernel, fds[case.prog], case) == RECORDED[case.name]
