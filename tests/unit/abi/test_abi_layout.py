"""``structops.abi.layout``: tables parse strictly; packing, unpacking and the ctypes view agree."""

from __future__ import annotations

import ctypes
import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structops.abi import tables as T
from structops.abi.consts import BPF_ATTR_SIZE
from structops.abi.layout import Field, Layout

ALL_TABLES = {name: getattr(T, name) for name in T.__all__}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("0 u33 x", "unknown C type"),
        ("0 u32 x colour=red", "unknown option"),
        ("0 u32", "expected 'offset ctype name"),
        ("0 ptr:in buf count=missing", "count field missing"),
        ("6 u32 x", "past the size"),
        ("0 u32 x\n4 u32 x", "duplicate field names"),
    ],
)
def test_bad_tables_are_refused(table: str, message: str) -> None:
    """A table with a typo fails when the module is imported, naming the problem."""
    with pytest.raises(ValueError, match=message):
        Layout.parse("t", 8, table)


def test_comments_and_options_parse() -> None:
    """Comments are dropped; count=LEN/8 and count=LEN/FIELD set the divisor; written, bits."""
    lay = Layout.parse(
        "t",
        32,
        """
        0  u32     n            # a count
        4  u32     rec
        8  ptr:in  a            count=n/8
        16 ptr:out b            count=n/rec
        24 u32     flags        written bits=1
        """,
    )
    assert lay["a"].per == 8 and lay["b"].per == "rec" and lay["a"].count == "n"
    assert lay["flags"].written and lay["flags"].bits == 1
    assert [f.name for f in lay.written] == ["flags"]
    assert lay.unpack(struct.pack("<IIQQI", 1, 2, 3, 4, 0xFF))["flags"] == 1


@pytest.mark.parametrize("name", list(ALL_TABLES))
def test_tables_are_sane(name: str) -> None:
    """Fields do not overlap, are naturally aligned and fit; bpf_attr groups fit the union."""
    lay = ALL_TABLES[name]
    fields = sorted(lay, key=lambda f: f.offset)
    for a, b in itertools.pairwise(fields):
        assert a.end <= b.offset, (name, a.name, b.name)
    for f in fields:
        align = 1 if f.is_bytes else f.size
        assert f.offset % align == 0, (name, f.name)
    if lay.name.startswith("bpf_attr"):
        assert lay.size <= BPF_ATTR_SIZE


@pytest.mark.parametrize("name", list(ALL_TABLES))
def test_ctypes_view_has_every_field_at_its_offset(name: str) -> None:
    """The derived ctypes structure has the table's size and offsets, and reads packed bytes."""
    lay = ALL_TABLES[name]
    view = lay.ctypes_type()
    assert ctypes.sizeof(view) == lay.size
    for f in lay:
        assert getattr(view, f.name).offset == f.offset, f.name
        assert getattr(view, f.name).size == f.size, f.name
    scalars = [f for f in lay if not f.is_bytes]
    values = {f.name: 0x0101 * (i + 1) for i, f in enumerate(scalars)}
    obj = view.from_buffer_copy(lay.pack(values))
    for f in scalars:
        assert getattr(obj, f.name) == values[f.name], f.name


def _value(f: Field) -> st.SearchStrategy[object]:
    if f.is_bytes:
        return st.binary(max_size=f.size)
    bits = 8 * f.size if not f.bits else f.bits
    if f.ctype.startswith("s"):
        return st.integers(min_value=-(1 << (bits - 1)), max_value=(1 << (bits - 1)) - 1)
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(ALL_TABLES)))
def test_pack_then_unpack_gives_the_values_back(data: st.DataObject, name: str) -> None:
    """For random values (raw addresses for pointers), unpack(pack(v)) == v for every table."""
    lay = ALL_TABLES[name]
    values = {f.name: data.draw(_value(f), label=f.name) for f in lay if f.count is None}
    values |= {f.name: data.draw(_value(f), label=f.name) for f in lay if f.count is not None}
    raw = lay.pack(values)
    assert len(raw) == lay.size
    back = lay.unpack(raw)
    for f in lay:
        want = values[f.name]
        if f.is_bytes:
            assert isinstance(want, bytes)
            assert back[f.name] == want.ljust(f.size, b"\0"), f.name
        else:
            assert back[f.name] == want, f.name


def test_signed_fields_wrap_instead_of_failing() -> None:
    """An s32 of -1 packs as 0xffffffff; an out-of-range int is masked, not a struct.error."""
    raw = T.OBJ_PIN.pack({"path_fd": -1})
    assert T.OBJ_PIN.unpack(raw)["path_fd"] == -1
    raw = T.MAP_CREATE.pack({"map_type": 2**32 + 5})
    assert T.MAP_CREATE.read_int("map_type", raw) == 5


def test_buffers_need_a_pin_function() -> None:
    """Packing a buffer without ``pin`` is a TypeError naming the field; raw ints pass through."""
    with pytest.raises(TypeError, match="key"):
        T.MAP_ELEM.pack({"key": b"1234"})
    raw = T.MAP_ELEM.pack({"key": 0x1000})
    assert T.MAP_ELEM.read_int("key", raw) == 0x1000


def test_short_buffers_unpack_as_zero() -> None:
    """An info buffer shorter than the struct reads the missing fields as zero."""
    raw = struct.pack("<II", 26, 7)
    info = T.MAP_INFO.unpack(raw)
    assert info["type"] == 26 and info["id"] == 7 and info["max_entries"] == 0 and info["name"] == bytes(16)


def test_layout_is_a_sequence_of_fields() -> None:
    """Fields by position and by name; ``in`` and ``len`` work; unknown names are KeyError."""
    lay = T.LINK_UPDATE
    assert lay[0] is lay["link_fd"] and lay[-1].name == "old_fd" and len(lay) == 4
    assert "new_fd" in lay and "new_map_fd" not in lay
    assert [f.name for f in lay] == ["link_fd", "new_fd", "flags", "old_fd"]
    with pytest.raises(KeyError):
        lay["new_map_fd"]
