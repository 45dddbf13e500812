""".BTF.ext parsing (btf.rst 4.2): record counts against the ELF's own relocations, record
placement after linking, CO-RE records against the instructions clang emitted, and
malformed blobs."""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from readelf_listing import TESTDATA, load_listing

from structops.btf.layout import underlying
from structops.btf.types import Array, Struct, Union
from structops.errors import ELFError
from structops.loader import CoreReloKind, load_collection_spec, parse_btf_ext

OBJECTS = sorted(p.name.removesuffix(".bpf.o") for p in TESTDATA.glob("*.bpf.o"))


@pytest.mark.parametrize("obj", OBJECTS)
def test_record_counts_match_rel_btf_ext(obj: str) -> None:
    """clang emits one .rel.BTF.ext entry (against the code section) per record."""
    lst = load_listing(obj)
    spec = load_collection_spec(TESTDATA / f"{obj}.bpf.o")
    assert spec.btf_ext is not None
    per_sec = Counter(r.symbol for r in lst.relocs[".rel.BTF.ext"])
    ext = spec.btf_ext
    got = Counter()
    for table in (ext.func_info, ext.line_info, ext.core_relos):
        for sec, recs in table.items():
            got[sec] += len(recs)
    assert got == per_sec
    assert sum(ext.counts()) == len(lst.relocs[".rel.BTF.ext"])


@pytest.mark.parametrize("obj", OBJECTS)
def test_one_func_info_per_function(obj: str) -> None:
    lst = load_listing(obj)
    spec = load_collection_spec(TESTDATA / f"{obj}.bpf.o")
    assert spec.btf_ext is not None and spec.btf is not None
    for sec in lst.exec_sections():
        funcs = lst.funcs_in(sec.name)
        infos = spec.btf_ext.func_info[sec.name]
        assert [fi.insn_off for fi in infos] == [f.value // 8 for f in funcs]
        assert [spec.btf.type_by_id(fi.type_id).name for fi in infos] == [f.name for f in funcs]


def test_linked_program_func_infos_follow_the_code() -> None:
    spec = load_collection_spec(TESTDATA / "cubic_like.bpf.o")
    assert spec.btf is not None
    p = spec.programs["so_cubic_cong_avoid"]
    names = [spec.btf.type_by_id(fi.type_id).name for fi in p.func_infos]
    assert names == ["so_cubic_cong_avoid", "so_cbrt"]
    assert p.func_infos[0].insn_off == 0
    assert all(0 <= li.insn_off < p.insn_count for li in p.line_infos)
    assert [li.insn_off for li in p.line_infos] == sorted(li.insn_off for li in p.line_infos)
    assert all(li.file_name.endswith("cubic_like.bpf.c") for li in p.line_infos)
    assert any("so_cbrt" in li.line_text or "cbrt_seed" in li.line_text for li in p.line_infos)


def _field_offset(spec_btf: object, relo_type: object, access: tuple[int, ...]) -> int:
    """Byte offset of an access path on the local BTF (first index = array element)."""
    t = underlying(relo_type)  # type: ignore[arg-type]
    bits = 0
    for i in access[1:]:
        if isinstance(t, Struct | Union):
            m = t.members[i]
            bits += m.bit_offset
            t = underlying(m.type)
        else:
            assert isinstance(t, Array)
            from structops.btf.layout import sizeof

            bits += i * sizeof(t.type) * 8
            t = underlying(t.type)
    return bits // 8


@pytest.mark.parametrize("obj", ["cubic_like", "dctcp_like", "reno_v2", "mixed"])
def test_field_offset_relocations_point_at_the_access_clang_emitted(obj: str) -> None:
    """A FIELD_BYTE_OFFSET record sits on a load/store/add whose constant is that offset."""
    spec = load_collection_spec(TESTDATA / f"{obj}.bpf.o")
    assert spec.btf is not None
    checked = 0
    for p in spec.programs.values():
        for c in p.core_relos:
            op, _regs, off, imm = struct.unpack("<BBhi", p.slot(c.insn_off))
            if c.kind != CoreReloKind.FIELD_BYTE_OFFSET:
                continue
            want = _field_offset(spec.btf, spec.btf.type_by_id(c.type_id), c.access_spec)
            cls = op & 7
            if cls in (1, 3):  # LDX / STX: offset in off
                assert off == want, (p.name, c)
            elif cls == 2:  # ST imm
                assert off == want
            else:  # ALU64 / MOV: constant in imm
                assert imm == want, (p.name, c)
            checked += 1
    assert checked > 0


def test_cubic_uses_several_relocation_kinds() -> None:
    spec = load_collection_spec(TESTDATA / "cubic_like.bpf.o")
    kinds = {c.kind for p in spec.programs.values() for c in p.core_relos}
    assert {CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_EXISTS, CoreReloKind.TYPE_EXISTS,
            CoreReloKind.ENUMVAL_VALUE} <= kinds  # fmt: skip
    assert spec.btf is not None
    enum_relos = [c for p in spec.programs.values() for c in p.core_relos if c.kind.is_enumval]
    assert [spec.btf.type_by_id(c.type_id).name for c in enum_relos] == ["tcp_ca_state"]
    assert [c.access_str for c in enum_relos] == ["4"]  # TCP_CA_Loss is enumerator #4


# -- malformed blobs -------------------------------------------------------------------------


def _hdr(fi: bytes = b"", li: bytes = b"", cr: bytes = b"", hdr_len: int = 32, magic: int = 0xEB9F) -> bytes:
    body = fi + li + cr
    h = struct.pack("<HBBIIIIIII", magic, 1, 0, hdr_len, 0, len(fi), len(fi), len(li), len(fi) + len(li), len(cr))
    return h[:hdr_len] + body


def _strings(off: int) -> str:
    table = {0: "", 1: "sec", 5: "0:1"}
    if off not in table:
        raise KeyError(off)
    return table[off]


def test_well_formed_blob() -> None:
    fi = struct.pack("<I", 8) + struct.pack("<II", 1, 2) + struct.pack("<II", 16, 7) + struct.pack("<II", 24, 9)
    cr = struct.pack("<I", 16) + struct.pack("<II", 1, 1) + struct.pack("<IIII", 8, 3, 5, 0)
    ext = parse_btf_ext(_hdr(fi=fi, cr=cr), _strings)
    assert [(f.insn_off, f.type_id) for f in ext.func_info["sec"]] == [(2, 7), (3, 9)]
    assert ext.core_relos["sec"][0].access_spec == (0, 1)
    assert ext.counts() == (2, 0, 1)


def test_longer_records_are_accepted() -> None:
    fi = struct.pack("<I", 12) + struct.pack("<II", 1, 1) + struct.pack("<III", 8, 7, 0xAAAA)
    ext = parse_btf_ext(_hdr(fi=fi), _strings)
    assert ext.func_info["sec"][0].type_id == 7


@pytest.mark.parametrize(
    ("blob", "msg"),
    [
        (b"\x9f\xeb", "shorter than its header"),
        (_hdr(magic=0x9FEB), "bad magic"),
        (_hdr(hdr_len=16), "shorter than its header"),
        (_hdr(fi=struct.pack("<I", 4)), "bad record size"),
        (_hdr(fi=struct.pack("<I", 10)), "bad record size"),
        (_hdr(fi=struct.pack("<I", 8) + struct.pack("<II", 1, 0)), "no records"),
        (_hdr(fi=struct.pack("<I", 8) + struct.pack("<II", 1, 0xFFFFFFFF)), "do not fit"),
        (_hdr(fi=struct.pack("<I", 8) + struct.pack("<II", 99, 1) + bytes(8)), "bad section name"),
        (_hdr(fi=struct.pack("<I", 8) + struct.pack("<II", 1, 1) + struct.pack("<II", 3, 1)), "not a multiple"),
        (_hdr(cr=struct.pack("<I", 16) + struct.pack("<II", 1, 1) + struct.pack("<IIII", 0, 1, 5, 13)), "unknown"),
        (_hdr(fi=struct.pack("<I", 8) + struct.pack("<I", 1)), "truncated"),
    ],
)
def test_malformed_blobs_raise_elf_error(blob: bytes, msg: str) -> None:
    with pytest.raises(ELFError, match=msg):
        parse_btf_ext(blob, _strings)


def test_subsection_outside_the_data() -> None:
    blob = struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, 1 << 30, 0, 0, 0, 0)
    with pytest.raises(ELFError, match="outside the section"):
        parse_btf_ext(blob, _strings)
