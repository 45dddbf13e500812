"""Fixtures for the bpftool-style CLI tests: an embedded kernel and a ``cli`` runner."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from cli_support import Cli, Result

from structops.cli import main
from structops.kernel.emulated import EmulatedKernel


@pytest.fixture
def kernel() -> EmulatedKernel:
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
