"""Malformed objects raise ELFError with a clear message: never another exception, a
hang or a huge allocation (libbpf's open-phase checks plus our own bounds)."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from readelf_listing import TESTDATA, load_listing

from structops.errors import ELFError, FormatError
from structops.loader import CollectionSpec, load_collection_spec

RENO = (TESTDATA / "reno_legacy.bpf.o").read_bytes()
SMALL = [(TESTDATA / f"{n}.bpf.o").read_bytes() for n in ("dummy_ops", "mixed", "optional", "bad_type")]


def _patch(raw: bytes, off: int, fmt: str, *values: int) -> bytes:
    buf = bytearray(raw)
    struct.pack_into(fmt, buf, off, *values)
    return bytes(buf)


def _shdr_off(raw: bytes, index: int) -> int:
    shoff = struct.unpack_from("<Q", raw, 40)[0]
    return shoff + 64 * index


@pytest.mark.parametrize(
    ("mutate", "msg"),
    [
        (lambda r: b"", "shorter than an ELF header"),
        (lambda r: r[:63], "shorter than an ELF header"),
        (lambda r: b"\x7fELG" + r[4:], "bad magic"),
        (lambda r: r[:4] + b"\x01" + r[5:], "not a 64-bit"),
        (lambda r: r[:5] + b"\x02" + r[6:], "not a little-endian"),
        (lambda r: _patch(r, 18, "<H", 62), "e_machine is 62"),
        (lambda r: _patch(r, 16, "<H", 2), "not a relocatable"),
        (lambda r: _patch(r, 60, "<H", 0xFFFF), "runs past the end"),
        (lambda r: _patch(r, 40, "<Q", 1 << 60), "runs past the end"),
        (lambda r: _patch(r, 58, "<H", 40), "section header size"),
        (lambda r: _patch(r, 62, "<H", 5000), "out of range"),
        (lambda r: r[: len(r) // 2], "past the end"),
    ],
)
def test_bad_headers(mutate: object, msg: str) -> None:
    with pytest.raises(ELFError, match=msg):
        load_collection_spec(mutate(RENO))  # type: ignore[operator]


def test_section_outside_the_file() -> None:
    lst = load_listing("reno_legacy")
    idx = lst.section(".struct_ops").index
    raw = _patch(RENO, _shdr_off(RENO, idx) + 24, "<Q", len(RENO) - 4)  # sh_offset
    with pytest.raises(ELFError, match=r"section \d+ .*runs past the end"):
        load_collection_spec(raw)


def test_relocation_symbol_index_out_of_range() -> None:
    lst = load_listing("reno_legacy")
    rel = lst.section(".rel.struct_ops")
    raw = _patch(RENO, rel.offset + 8, "<Q", (9999 << 32) | 2)  # r_info of entry 0
    with pytest.raises(ELFError, match="symbol index 9999 out of range"):
        load_collection_spec(raw)


def test_struct_ops_relocation_on_a_non_function_member() -> None:
    lst = load_listing("reno_legacy")
    rel = lst.section(".rel.struct_ops")
    raw = _patch(RENO, rel.offset, "<Q", 88)  # r_offset -> `name`
    with pytest.raises(ELFError, match="non func ptr"):
        load_collection_spec(raw)


def test_program_relocation_on_a_wrong_instruction() -> None:
    lst = load_listing("reno_legacy")
    rel = lst.section(".relstruct_ops/so_reno_ssthresh")
    raw = _patch(RENO, rel.offset, "<Q", 0)  # insn 0 is a load, not ld_imm64/call
    with pytest.raises(ELFError, match="invalid relocation for instruction code 0x79"):
        load_collection_spec(raw)


def test_misaligned_relocation_offset() -> None:
    lst = load_listing("reno_legacy")
    rel = lst.section(".relstruct_ops/so_reno_init")
    raw = _patch(RENO, rel.offset, "<Q", 3)
    with pytest.raises(ELFError, match="relocation offset 3 is invalid"):
        load_collection_spec(raw)


def test_huge_symbol_table_size_is_refused() -> None:
    lst = load_listing("reno_legacy")
    idx = lst.section(".symtab").index
    raw = _patch(RENO, _shdr_off(RENO, idx) + 32, "<Q", 1 << 40)
    t = time.perf_counter()
    with pytest.raises(ELFError):
        load_collection_spec(raw)
    assert time.perf_counter() - t < 1.0


def test_bad_kernel_version_section() -> None:
    lst = load_listing("sections")
    raw = (TESTDATA / "sections.bpf.o").read_bytes()
    idx = lst.section("version").index
    raw = _patch(raw, _shdr_off(raw, idx) + 32, "<Q", 3)
    with pytest.raises(ELFError, match="invalid kver section"):
        load_collection_spec(raw)


def test_unreadable_path() -> None:
    with pytest.raises(ELFError, match="cannot read"):
        load_collection_spec(TESTDATA / "does_not_exist.bpf.o")


@given(data=st.data())
def test_fuzz_mutated_objects(data: st.DataObject) -> None:
    """Random byte mutations of real objects: a spec or a FormatError, quickly."""
    raw = bytearray(data.draw(st.sampled_from(SMALL)))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    t = time.perf_counter()
    try:
        spec = load_collection_spec(bytes(raw))
    except FormatError as e:
        assert isinstance(e, ELFError), type(e)
        assert str(e)
    else:
        assert isinstance(spec, CollectionSpec)
    assert time.perf_counter() - t < 2.0


@given(data=st.data())
def test_fuzz_header_fields(data: st.DataObject) -> None:
    """Targeted mutations of the ELF header and section header table fields."""
    raw = bytearray(SMALL[0])
    shoff = struct.unpack_from("<Q", raw, 40)[0]
    shnum = struct.unpack_from("<H", raw, 60)[0]
    targets = [(16, "<H"), (18, "<H"), (40, "<Q"), (58, "<H"), (60, "<H"), (62, "<H")]
    for i in range(shnum):
        base = shoff + 64 * i
        targets += [(base, "<I"), (base + 4, "<I"), (base + 24, "<Q"), (base + 32, "<Q"), (base + 40, "<I"),
                     (base + 44, "<I"), (base + 56, "<Q")]  # fmt: skip
    off, fmt = data.draw(st.sampled_from(targets))
    bits = struct.calcsize(fmt) * 8
    struct.pack_into(fmt, raw, off, data.draw(st.integers(0, (1 << bits) - 1)))
    try:
        load_collection_spec(bytes(raw))
    except ELFError as e:
        assert str(e)
