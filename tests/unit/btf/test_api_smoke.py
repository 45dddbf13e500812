"""Smoke test of the public BTF API shape: build a small graph, encode, parse back."""

from __future__ import annotations

import pytest

from structops import btf


def _graph() -> list[btf.Type]:
    i32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    node = btf.Struct("node", 16, ())
    ptr = btf.Pointer(node)
    object.__setattr__(node, "members", (btf.Member("val", i32, 0), btf.Member("next", ptr, 64)))
    return [i32, node, ptr]


def test_encode_parse_roundtrip_keeps_cycle() -> None:
    spec = btf.parse(btf.encode(_graph()))
    node = spec.find("node", btf.Struct)
    assert [m.name for m in node.members] == ["val", "next"]
    nxt = node.member("next").type
    assert isinstance(nxt, btf.Pointer) and nxt.target is node
    assert btf.member_offset(node, "next") == 8
    assert btf.sizeof(node) == 16 and btf.alignof(node) == 8
    assert spec.type_id(node) == 2 and spec.types[spec.type_id(node)] is node
    assert isinstance(spec.types[0], btf.Void)


def test_find_missing_raises_key_error() -> None:
    spec = btf.parse(btf.encode(_graph()))
    with pytest.raises(KeyError):
        spec.find("nope")
    with pytest.raises(KeyError):
        spec.find("int", btf.Struct)
    with pytest.raises(btf.BTFError):
        spec.type_by_id(99)
