"""Fixtures for the TCP simulator bridge tests: an embedded kernel with testdata objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


@pytest.fixture
def kernel() -> EmulatedKernel:
    """A fresh embedded kernel."""
    return EmulatedKernel()


@pytest.fixture
def load(kernel: EmulatedKernel) -> Iterator[Callable[[str], Collection]]:
    """Open and load ``testdata/<name>.bpf.o`` on the fixture kernel (closed at teardown)."""
    opened: list[Collection] = []

    def _load(name: str) -> Collection:
        coll = Collection.open(TESTDATA / f"{name}.bpf.o").load(kernel)
        opened.append(coll)
        return coll

    yield _load
    for coll in opened:
        coll.close()
