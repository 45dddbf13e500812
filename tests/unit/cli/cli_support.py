"""Shared helpers and fixtures of the bpftool-style CLI tests (imported by the test modules;
not a conftest.py, so that ``from conftest import ...`` elsewhere keeps meaning tests/conftest.py)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from structops.cli import main
from structops.kernel.emulated import EmulatedKernel

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


@dataclass
class Result:
    """What one CLI invocation produced."""

    rc: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def kernel() -> EmulatedKernel:
    """A fresh embedded kernel."""
    return EmulatedKernel()


@pytest.fixture
def cli(kernel: EmulatedKernel, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """Run ``structops ARGS`` on the fixture kernel; returns rc, stdout and stderr."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        out = io.StringIO()
        rc = main(list(argv), out, kernel=kernel)
        return Result(rc, out.getvalue(), capsys.readouterr().err)

    yield run
