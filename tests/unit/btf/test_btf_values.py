"""btf.values: decode(encode(v)) == v for ints, bitfields, arrays, nested structs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops import btf
from structops.btf.values import decode, encode

U8 = btf.Int("unsigned char", 1)
CHAR = btf.Int("char", 1, btf.IntEncoding.SIGNED | btf.IntEncoding.CHAR)
S16 = btf.Int("short", 2, btf.IntEncoding.SIGNED)
U32 = btf.Int("unsigned int", 4)
S64 = btf.Int("long long", 8, btf.IntEncoding.SIGNED)
BOOL = btf.Int("_Bool", 1, btf.IntEncoding.BOOL)
INNER = btf.Struct("inner", 8, (btf.Member("a", S16, 0), btf.Member("b", U32, 32)))
OUTER = btf.Struct(
    "outer",
    40,
    (
        btf.Member("x", S64, 0),
        btf.Member("name", btf.Array(CHAR, U32, 8), 64),
        btf.Member("vals", btf.Array(U8, U32, 4), 128),
        btf.Member("flag", BOOL, 160),
        btf.Member("lo", U32, 168, 3),
        btf.Member("hi", btf.Int("int", 4, btf.IntEncoding.SIGNED), 171, 5),
        btf.Member("in", INNER, 192),
        btf.Member("ptr", btf.Pointer(U32), 256),
    ),
)

values = st.fixed_dictionaries(
    {
        "x": st.integers(-(1 << 63), (1 << 63) - 1),
        "name": st.binary(max_size=7).map(lambda b: b.replace(b"\0", b"a")),
        "vals": st.lists(st.integers(0, 255), min_size=4, max_size=4),
        "flag": st.booleans(),
        "lo": st.integers(0, 7),
        "hi": st.integers(-16, 15),
        "in": st.fixed_dictionaries({"a": st.integers(-(1 << 15), (1 << 15) - 1), "b": st.integers(0, (1 << 32) - 1)}),
        "ptr": st.integers(0, (1 << 64) - 1),
    }
)


@given(values)
def test_round_trip(v: dict[str, object]) -> None:
    raw = encode(OUTER, v)
    assert len(raw) == 40
    assert decode(OUTER, raw) == v


def test_layout_is_the_c_layout() -> None:
    raw = encode(OUTER, {"x": -2, "name": b"ab", "lo": 5, "hi": -1, "in": {"b": 7}})
    assert struct.unpack_from("<q", raw, 0)[0] == -2
    assert raw[8:16] == b"ab" + bytes(6)
    assert raw[21] == 5 | (0b11111 << 3)  # lo in bits 0-2, hi (-1 = 0b11111) in bits 3-7
    assert struct.unpack_from("<I", raw, 28)[0] == 7


def test_refusals_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"value\.in\.a: 70000 does not fit"):
        encode(OUTER, {"in": {"a": 70000}})
    with pytest.raises(ValueError, match="has no member 'nope'"):
        encode(OUTER, {"nope": 1})
    with pytest.raises(ValueError, match="5 elements do not fit in 4"):
        encode(OUTER, {"vals": [1, 2, 3, 4, 5]})
