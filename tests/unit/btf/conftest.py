"""Fixtures for the BTF unit tests: the committed blobs of testdata/btf/types.c."""

from __future__ import annotations

from pathlib import Path

import pytest

from structops import btf

BTF_DATA = Path(__file__).resolve().parents[3] / "testdata" / "btf"


@pytest.fixture(scope="session")
def types_le_bytes() -> bytes:
    """Little-endian .BTF of testdata/btf/types.c (clang -target bpfel)."""
    return (BTF_DATA / "types.bpfel.btf").read_bytes()


@pytest.fixture(scope="session")
def types_be_bytes() -> bytes:
    """Big-endian .BTF of testdata/btf/types.c (clang -target bpfeb)."""
    return (BTF_DATA / "types.bpfeb.btf").read_bytes()


@pytest.fixture
def spec(types_le_bytes: bytes) -> btf.Spec:
    """A freshly parsed spec of the little-endian fixture."""
    return btf.parse(types_le_bytes)
