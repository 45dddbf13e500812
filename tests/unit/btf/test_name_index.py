"""Name look-ups agree with a brute-force reading of every record, in every index mode.

A spec answers ``find``/``find_all`` by scanning (first look-ups), by the name-offset
index (after ``build_name_index`` or enough look-ups), and with the string index too
(after more look-ups).  The oracle here decodes each record's name offset with
``struct`` and the string section by hand, independently of the parser's index code.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops import btf
from structops.btf import _index


def _blob(records: list[bytes], strings: bytes) -> bytes:
    types = b"".join(records)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def _int(name_off: int) -> bytes:
    return struct.pack("<4I", name_off, 1 << 24, 4, 32)


def _typedef(name_off: int, target: int) -> bytes:
    return struct.pack("<3I", name_off, 8 << 24, target)


def _struct(name_off: int, size: int = 0) -> bytes:
    return struct.pack("<3I", name_off, 4 << 24, size)


def _oracle(blob: bytes, name: str) -> list[int]:
    """Ids whose name is ``name``: walk the records with struct, read names by hand."""
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", blob)
    types = blob[hdr_len + type_off : hdr_len + type_off + type_len]
    strs = blob[hdr_len + str_off : hdr_len + str_off + str_len]
    extra = {1: 4, 4: 0, 8: 0}  # INT has one extra word; STRUCT with vlen 0, TYPEDEF none
    ids, pos, tid = [], 0, 1
    while pos < len(types):
        name_off, info, _ = struct.unpack_from("<3I", types, pos)
        end = strs.find(b"\0", name_off)
        if strs[name_off:end].decode() == name:
            ids.append(tid)
        pos += 12 + extra[info >> 24]
        tid += 1
    return ids


def _lookups(spec: btf.Spec, name: str) -> list[int]:
    return [spec.type_id(t) for t in spec.find_all(name)]


def _fresh(blob: bytes) -> btf.Spec:
    return btf.parse(blob, validate=False)


def _indexed(blob: bytes) -> btf.Spec:
    spec = btf.parse(blob, validate=False)
    spec.build_name_index()
    return spec


def _upgraded(blob: bytes) -> btf.Spec:
    spec = btf.parse(blob, validate=False)
    for _ in range(40):  # enough look-ups to build the name index and the string index
        spec.find_all("no such name")
    assert spec._index is not None
    assert spec._strindex is not None or isinstance(spec._index, _index.BytesNameIndex)
    return spec


MODES: list[Callable[[bytes], btf.Spec]] = [_fresh, _indexed, _upgraded]

#: Names that share tails ("task" ends "sk", "sk" ends "k") and a duplicated string.
_POOL = ["k", "sk", "task", "int", "sock", "k"]


@st.composite
def _blobs(draw: st.DrawFn) -> bytes:
    pool = draw(st.lists(st.sampled_from(_POOL), min_size=1, max_size=6))
    strings = b"\0" + b"".join(n.encode() + b"\0" for n in pool)
    # Every offset of a name's bytes followed by NUL: string starts and string tails.
    offsets = [0] + [p for n in set(pool) for p in _index.search_string(strings, 0, n.encode(), anywhere=True)]
    records = []
    for _ in range(draw(st.integers(1, 30))):
        off = draw(st.sampled_from(offsets))
        kind = draw(st.sampled_from(["int", "typedef", "struct"]))
        if kind == "int":
            records.append(_int(off))
        elif kind == "typedef":
            records.append(_typedef(off, 0))
        else:
            records.append(_struct(off))
    return _blob(records, strings)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.__name__.strip("_"))
@given(blob=_blobs())
def test_find_all_matches_the_oracle(mode: Callable[[bytes], btf.Spec], blob: bytes) -> None:
    spec = mode(blob)
    for name in [*_POOL, "", "ta", "nosuch"]:
        assert _lookups(spec, name) == _oracle(blob, name), name


def test_name_inside_a_longer_string_is_found_in_every_mode() -> None:
    strings = b"\0struct_foo\0int\0"
    foo = strings.index(b"foo")  # the tail of "struct_foo": legal, no encoder emits it
    blob = _blob([_int(strings.index(b"int")), _struct(foo, 4), _typedef(1, 2)], strings)
    for mode in MODES:
        spec = mode(blob)
        assert spec.find("foo", btf.Struct).size == 4
        assert _lookups(spec, "foo") == [2]
        assert _lookups(spec, "struct_foo") == [3]
    indexed = _indexed(blob)
    assert isinstance(indexed._index, _index.BytesNameIndex)


def test_regular_blob_uses_the_offset_index(types_le_bytes: bytes) -> None:
    spec = _indexed(types_le_bytes)
    assert isinstance(spec._index, _index.NameIndex)
    assert spec.find("node", btf.Struct).name == "node"


def test_struct_and_typedef_sharing_a_name_are_both_found() -> None:
    strings = b"\0int\0pair\0"
    pair = strings.index(b"pair")
    blob = _blob([_int(1), _typedef(pair, 3), _struct(pair, 8)], strings)
    for mode in MODES:
        spec = mode(blob)
        assert _lookups(spec, "pair") == [2, 3]
        assert isinstance(spec.find("pair", btf.Struct), btf.Struct)
        assert isinstance(spec.find("pair", btf.Typedef), btf.Typedef)
        assert isinstance(spec.find("pair"), btf.Typedef)  # the lowest id first


def test_names_with_nul_or_unknown_match_nothing() -> None:
    strings = b"\0a\0b\0"
    blob = _blob([_int(1), _int(3)], strings)
    for mode in MODES:
        spec = mode(blob)
        assert spec.find_all("a\0b") == []
        with pytest.raises(KeyError):
            spec.find("a\0b")
        with pytest.raises(KeyError):
            spec.find("c")


def test_out_of_range_name_offset_is_found_under_no_name() -> None:
    blob = _blob([_int(1), _struct(500, 4)], b"\0int\0")
    spec = _indexed(blob)
    assert _lookups(spec, "int") == [1]
    assert spec.find_all("") == []


def test_split_btf_names_in_base_and_own_strings(types_le_bytes: bytes) -> None:
    base = btf.parse(types_le_bytes)
    node = base.find("node", btf.Struct)
    node_id = base.type_id(node)
    base_strings = types_le_bytes[24 + base.header.str_off :][: base.header.str_len]
    in_base = base_strings.index(b"\0node\0") + 1  # a split type named by a base string
    str_base = base.header.str_len
    split_blob = _blob([_typedef(in_base, node_id), _typedef(str_base, node_id)], b"split_only\0")
    for mode in (lambda b: btf.parse(b, base, validate=False), lambda b: btf.parse(b, base)):
        for build in (False, True):
            spec = mode(split_blob)
            if build:
                spec.build_name_index()
                assert isinstance(spec._index, _index.NameIndex)
            got = [spec.type_id(t) for t in spec.find_all("node")]
            assert got == [node_id, len(base)]
            assert isinstance(spec.find("node", btf.Typedef), btf.Typedef)
            assert spec.find("node") is node  # base types first
            assert spec.find("split_only", btf.Typedef).type is node
            assert spec.type_id(spec.find("split_only")) == len(base) + 1


def test_walk_records_offsets_and_errors() -> None:
    words = memoryview(_int(1) + _typedef(1, 1) + _struct(0)).cast("I")
    assert _index.walk_records(words) == [0, 4, 7]
    assert _index.walk_records(memoryview(b"").cast("I")) == []
    with pytest.raises(btf.BTFError, match=r"type \[3\] runs past"):
        _index.walk_records(memoryview(_int(1) + _typedef(1, 1) + b"\0" * 4).cast("I"))
    with pytest.raises(btf.BTFError, match=r"type \[2\] runs past"):
        _index.walk_records(memoryview(_int(1) + _int(1)[:12]).cast("I"))
    with pytest.raises(btf.BTFError, match=r"type \[2\] at byte 16 .* unknown kind 25"):
        _index.walk_records(memoryview(_int(1) + struct.pack("<3I", 0, 25 << 24, 0)).cast("I"))


def test_pahole_blobs_every_name_in_every_mode() -> None:
    """The emulated kernel's pahole-made BTF (base and split): every name, every mode."""
    from pathlib import Path

    kdata = Path(__file__).resolve().parents[3] / "src" / "structops" / "kernel" / "data"
    base_blob = (kdata / "vmlinux.btf").read_bytes()
    split_blob = (kdata / "bpf_testmod.btf").read_bytes()
    for mode in MODES:
        base = mode(base_blob)
        split = btf.parse(split_blob, base, validate=False)
        if mode is not _fresh:
            split.build_name_index()
        for spec in (base, split):
            by_name: dict[str, list[int]] = {}
            for i in range(1, len(spec)):
                by_name.setdefault(spec.name_of(i), []).append(i)
            assert len(by_name) > 50
            for name, ids in by_name.items():
                assert _lookups(spec, name) == ids, name
