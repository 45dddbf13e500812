"""Fixtures for the bpf_setsockopt/getsockopt tests: the sockopt_cc object on an embedded kernel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tcp_sockopt_support import OBJ

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel


@pytest.fixture
def kernel() -> EmulatedKernel:
    """A fresh embedded kernel."""
    return EmulatedKernel()


@pytest.fixture
def coll(kernel: EmulatedKernel) -> Iterator[Collection]:
    """sockopt_cc loaded (not attached) on the fixture kernel."""
    c = Collection.open(OBJ).load(kernel)
    yield c
    c.close()
