"""Fixtures and helpers of the bpf_setsockopt/getsockopt tests (no conftest.py: the name is taken)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from structops import btf as btflib
from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.loader import load_collection_spec

OBJ = Path(__file__).resolve().parents[3] / "testdata" / "sockopt_cc.bpf.o"


def globals_of(coll: Collection, section: str) -> dict[str, bytes]:
    """The variables of ``section`` (.bss/.data) as raw bytes, laid out by the object's BTF."""
    sec = load_collection_spec(OBJ).btf.find(section, btflib.Datasec)
    raw = coll.maps[section].lookup(0)
    return {v.type.name: raw[v.offset : v.offset + v.size] for v in sec.vars}


def set_data(coll: Collection, name: str, value: bytes) -> None:
    """Overwrite the .data variable ``name`` (zero-padded) through the map."""
    sec = load_collection_spec(OBJ).btf.find(".data", btflib.Datasec)
    var = next(v for v in sec.vars if v.type.name == name)
    raw = bytearray(coll.maps[".data"].lookup(0))
    raw[var.offset : var.offset + var.size] = value.ljust(var.size, b"\0")
    coll.maps[".data"].update(0, bytes(raw))


def num(b: bytes) -> int:
    """A little-endian signed integer."""
    return int.from_bytes(b, "little", signed=True)


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
