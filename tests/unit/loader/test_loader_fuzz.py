"""Mutated objects never crash the loader (issue 11 item 6).

Every committed object is mutated (section header fields, random bytes) and opened and
loaded on the embedded kernel: the only exceptions allowed are ELFError/BTFError (bad
input, LoadError included) and BpfError (the kernel refused).  ``STRUCTOPS_LONG=1`` runs
many more examples.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structops.errors import BpfError, BTFError, ELFError
from structops.kernel.emulated import EmulatedKernel
from structops.loader import load_collection_spec
from structops.loader.load import load_objects

ROOT = Path(__file__).resolve().parents[3] / "testdata"
OBJECTS = sorted([*ROOT.glob("*.bpf.o"), *(ROOT / "loader").glob("*.bpf.o")])
RAW = [p.read_bytes() for p in OBJECTS]
LONG = bool(os.environ.get("STRUCTOPS_LONG"))
EXAMPLES = 2000 if LONG else 60
_KERNEL: list[EmulatedKernel] = []


def _kernel() -> EmulatedKernel:
    """One embedded kernel for all examples (each example closes what it created)."""
    if not _KERNEL:
        _KERNEL.append(EmulatedKernel())
    return _KERNEL[0]


_SHDR_FIELDS = [(4, "<I"), (8, "<Q"), (24, "<Q"), (32, "<Q"), (40, "<I"), (44, "<I"), (56, "<Q")]


def _mutate(raw: bytes, edits: list[tuple[int, int, int, int]]) -> bytes:
    buf = bytearray(raw)
    shoff = struct.unpack_from("<Q", buf, 40)[0]
    shnum = struct.unpack_from("<H", buf, 60)[0]
    for kind, a, b, value in edits:
        if kind == 0 and shoff + 64 * shnum <= len(buf):
            off, fmt = _SHDR_FIELDS[b % len(_SHDR_FIELDS)]
            pos = shoff + 64 * (a % shnum) + off
            struct.pack_into(fmt, buf, pos, value % (1 << (8 * struct.calcsize(fmt))))
        else:
            buf[a % len(buf)] = value & 0xFF
    return bytes(buf)


def _open_and_load(raw: bytes, kernel: EmulatedKernel) -> None:
    try:
        spec = load_collection_spec(raw)
        objs = load_objects(spec, kernel)
    except (ELFError, BTFError, BpfError):
        return
    for fd in reversed(objs.fds()):
        kernel.close(fd)


@pytest.mark.timeout(3600 if LONG else 300)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(RAW) - 1),
    edits=st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 1 << 20),
            st.integers(0, 16),
            st.sampled_from([0, 1, 2, 3, 8, 9, 0xFF, 1 << 31, 1 << 63, 0xFFFFFFFF]) | st.integers(0, 1 << 64),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_objects_raise_only_loader_or_kernel_errors(which: int, edits: list[tuple[int, int, int, int]]) -> None:
    _open_and_load(_mutate(RAW[which], edits), _kernel())


def test_struct_ops_section_of_type_nobits_is_an_elf_error_naming_section_and_offset() -> None:
    """A ``.struct_ops`` section turned into SHT_NOBITS used to pass open and crash load()."""
    raw = (ROOT / "reno_legacy.bpf.o").read_bytes()
    shoff = struct.unpack_from("<Q", raw, 40)[0]
    shnum, shstrndx = struct.unpack_from("<HH", raw, 60)
    names_off = struct.unpack_from("<Q", raw, shoff + 64 * shstrndx + 24)[0]
    for i in range(shnum):
        name_off = struct.unpack_from("<I", raw, shoff + 64 * i)[0]
        name = raw[names_off + name_off : raw.index(b"\0", names_off + name_off)]
        if name == b".struct_ops":
            break
    else:
        pytest.fail("reno_legacy has no .struct_ops section")
    offset = struct.unpack_from("<Q", raw, shoff + 64 * i + 24)[0]
    bad = bytearray(raw)
    struct.pack_into("<I", bad, shoff + 64 * i + 4, 8)  # sh_type = SHT_NOBITS
    with pytest.raises(ELFError, match=rf"'\.struct_ops' \(index {i}, offset {offset}\).*SHT_PROGBITS"):
        load_collection_spec(bytes(bad))
