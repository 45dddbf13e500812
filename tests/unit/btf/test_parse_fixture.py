"""Parsing clang's BTF of testdata/btf/types.c: every kind, kind_flag meanings, both byte orders.

Expected values come from the C source and the C ABI (bitfield packing, alignment),
not from this parser's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops import btf
from structops.btf.rawdump import dump_raw

BTF_DATA = Path(__file__).resolve().parents[3] / "testdata" / "btf"


def test_header_and_byte_orders(types_le_bytes: bytes, types_be_bytes: bytes) -> None:
    le = btf.parse(types_le_bytes)
    be = btf.parse(types_be_bytes)
    assert le.byte_order == "little" and be.byte_order == "big"
    assert le.raw == types_le_bytes
    assert list(dump_raw(le)) == list(dump_raw(be))


def test_raw_listing_matches_bpftool_golden(spec: btf.Spec) -> None:
    """The committed listing was written by `bpftool btf dump file` (make -C testdata/btf btf)."""
    golden = (BTF_DATA / "types.bpftool.txt").read_text().splitlines()
    assert list(dump_raw(spec)) == golden


def test_struct_members_and_offsets(spec: btf.Spec) -> None:
    node = spec.find("node", btf.Struct)
    names = [m.name for m in node.members]
    assert names[:6] == ["next", "prev", "key", "val", "fl", ""]
    assert node.member("next").offset == 0
    assert node.member("key").offset == 16
    assert node.member("val").offset == 24  # union value is 8-aligned
    nxt = node.member("next").type
    assert isinstance(nxt, btf.Pointer) and nxt.target is node
    prev = node.member("prev").type
    assert isinstance(prev, btf.Pointer)
    assert isinstance(prev.target, btf.Const) and isinstance(prev.target.type, btf.Volatile)
    assert prev.target.type.type is node


def test_bitfields_use_kind_flag_encoding(spec: btf.Spec) -> None:
    fl = spec.find("flags", btf.Struct)
    got = [(m.name, m.bit_offset, m.bitfield_size) for m in fl.members]
    # unsigned a:3, b:5 share the first byte; int c:7 starts a new byte because d is u8 at 16.
    assert got == [("a", 0, 3), ("b", 3, 5), ("c", 8, 7), ("d", 16, 0), ("e", 24, 33), ("col", 57, 4)]
    assert fl.size == 8
    assert isinstance(fl.member("col").type, btf.Enum)


def test_enums_signedness_and_64bit(spec: btf.Spec) -> None:
    color = spec.find("color", btf.Enum)
    assert [(v.name, v.value) for v in color.values] == [("RED", 0), ("GREEN", 5), ("BLUE", 6)]
    assert not color.signed and color.size == 4
    sign = spec.find("sign", btf.Enum)
    assert sign.signed and [v.value for v in sign.values] == [-2, 0, 3]
    big = spec.find("big64", btf.Enum64)
    assert not big.signed and big.values[1].value == 0xFFFFFFFFFFFFFFF0
    neg = spec.find("neg64", btf.Enum64)
    assert neg.signed and neg.values[0].value == -(1 << 63)
    assert spec.find("tiny", btf.Enum).size == 1


def test_typedef_chain_and_underlying(spec: btf.Spec) -> None:
    alias2 = spec.find("u32_alias2", btf.Typedef)
    assert isinstance(alias2.type, btf.Typedef) and alias2.type.name == "u32_alias"
    base = btf.underlying(alias2)
    assert isinstance(base, btf.Int) and base.name == "unsigned int"
    assert not base.signed and base.bits == 32


def test_func_protos_params_variadic_linkage(spec: btf.Spec) -> None:
    visit_all = spec.find("visit_all", btf.Func)
    assert visit_all.linkage == btf.FuncLinkage.GLOBAL
    assert [p.name for p in visit_all.type.params] == ["n", "ctx"]
    assert spec.find("helper", btf.Func).linkage == btf.FuncLinkage.STATIC
    node = spec.find("node", btf.Struct)
    cb = btf.underlying(node.member("cb").type)
    assert isinstance(cb, btf.Pointer) and isinstance(cb.target, btf.FuncProto)
    assert cb.target.variadic and len(cb.target.params) == 1
    assert isinstance(cb.target.return_type, btf.Void)
    assert btf.is_func_pointer(node.member("visit").type)  # through typedef visit_fn
    assert not btf.is_func_pointer(node.member("next").type)


def test_arrays_fwd_tags_vars_datasec(spec: btf.Spec) -> None:
    node = spec.find("node", btf.Struct)
    matrix = node.member("matrix").type
    assert isinstance(matrix, btf.Array) and matrix.nelems == 2
    assert isinstance(matrix.type, btf.Array) and matrix.type.nelems == 3
    assert btf.sizeof(matrix) == 24
    fwd_u = node.member("fwd_u").type
    assert isinstance(fwd_u, btf.Pointer) and isinstance(fwd_u.target, btf.Fwd) and fwd_u.target.is_union
    uptr = node.member("uptr").type
    assert isinstance(uptr, btf.Pointer) and isinstance(uptr.target, btf.TypeTag)
    assert uptr.target.name == "user"
    tags = {t.name: t for t in spec.types if isinstance(t, btf.DeclTag)}
    assert tags["member_tag"].type is node and tags["member_tag"].component_idx == 12
    assert node.members[12].name == "tagged"
    assert tags["param_tag"].component_idx == 0 and tags["struct_tag"].component_idx == -1
    counter = spec.find("global_counter", btf.Var)
    assert counter.linkage == btf.VarLinkage.GLOBAL_ALLOCATED
    assert spec.find("static_counter", btf.Var).linkage == btf.VarLinkage.STATIC
    data = spec.find(".data", btf.Datasec)
    assert [s.type for s in data.vars] == [counter]


def test_layout_helpers(spec: btf.Spec) -> None:
    node = spec.find("node", btf.Struct)
    assert btf.member_offset(node, "y") == 44  # anonymous struct at 40, anonymous union at +4
    assert btf.member_offset(node, "z") == 44
    assert btf.member_offset(node, "fl.d") == 34
    packed = spec.find("packed_s", btf.Struct)
    assert btf.member_offset(packed, "i") == 1 and btf.alignof(packed) == 1 and btf.sizeof(packed) == 7
    wrapper = spec.find("wrapper", btf.Struct)
    assert btf.member_offset(wrapper, "data") == 64 and btf.sizeof(wrapper) == 128
    assert btf.alignof(node.member("val").type) == 8
    with pytest.raises(KeyError):
        btf.member_offset(node, "nope")
    with pytest.raises(btf.BTFError):
        btf.member_offset(spec.find("flags", btf.Struct), "b")  # bit 3: not byte aligned


def test_find_type_id_and_sequence(spec: btf.Spec) -> None:
    assert len(spec) == len(spec.types) == 79
    assert isinstance(spec.types[0], btf.Void) and spec.types[0] == btf.Void()
    for i, t in enumerate(spec.types):
        assert spec.type_id(t) == i
    assert spec.types[-1] is spec.types[78]
    assert [t.name for t in spec.find_all("int")] == ["int"]
    assert isinstance(spec.find("node"), btf.Struct)
    for name in ("color", "u8", "helper", ".bss"):
        assert spec.find(name).name == name
    with pytest.raises(KeyError):
        spec.type_id(btf.Int("int", 4))
