"""Encoder round trips (parse -> encode -> parse), Builder behaviour and split BTF."""

from __future__ import annotations

import pytest

from structops import btf
from structops.btf.rawdump import dump_raw


@pytest.mark.parametrize("order", ["little", "big"])
def test_fixture_roundtrip_keeps_ids_and_names(spec: btf.Spec, order: str) -> None:
    blob = btf.encode(spec, byte_order=order)  # type: ignore[arg-type]
    again = btf.parse(blob)
    assert again.byte_order == order
    assert list(dump_raw(again)) == list(dump_raw(spec))
    assert btf.encode(again, byte_order=order) == blob  # second generation is byte-identical  # type: ignore[arg-type]


def test_builder_assigns_ids_in_order_and_dedups_strings() -> None:
    b = btf.Builder()
    u32 = btf.Int("unsigned int", 4)
    s = btf.Struct("pair", 8, (btf.Member("a", u32, 0), btf.Member("b", u32, 32)))
    assert b.add(s) == 1
    assert b.add(s) == 1
    off = b.add_string("pair")
    assert b.add_string("pair") == off and b.add_string("") == 0
    assert b.add(u32) == 2
    spec = btf.parse(b.build())
    pair = spec.types[1]
    assert isinstance(pair, btf.Struct) and pair.name == "pair"
    assert spec.types[2].name == "unsigned int"  # type: ignore[attr-defined]
    assert [m.offset for m in pair.members] == [0, 4]


def test_builder_pulls_in_referenced_types_and_cycles() -> None:
    node = btf.Struct("node", 8, ())
    object.__setattr__(node, "members", (btf.Member("next", btf.Pointer(node), 0),))
    spec = btf.parse(btf.encode([node]))
    assert len(spec) == 3
    parsed = spec.find("node", btf.Struct)
    ptr = parsed.members[0].type
    assert isinstance(ptr, btf.Pointer) and ptr.target is parsed


def test_encoder_rejects_out_of_range_values() -> None:
    e = btf.Enum("e", 4, (btf.EnumValue("BIG", 1 << 40),))
    with pytest.raises(btf.BTFError, match="32 bits"):
        btf.encode([e])
    s = btf.Struct("s", 4, (btf.Member("x", btf.Int("int", 4), 1 << 25, 3),))
    with pytest.raises(btf.BTFError, match="bitfield"):
        btf.encode([s])


def test_all_kinds_roundtrip_through_builder() -> None:
    i32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    proto = btf.FuncProto(i32, (btf.Param("x", i32),), variadic=True)
    var = btf.Var("v", i32, btf.VarLinkage.GLOBAL_ALLOCATED)
    types: list[btf.Type] = [
        btf.Func("f", proto, btf.FuncLinkage.GLOBAL),
        btf.Enum64("e64", 8, (btf.EnumValue("N", -5),), signed=True),
        btf.Fwd("u", is_union=True),
        btf.Float("double", 8),
        btf.DeclTag("tag", var, -1),
        btf.Datasec(".data", 4, (btf.VarSecinfo(var, 0, 4),)),
        btf.Restrict(btf.Pointer(btf.Volatile(btf.Const(btf.TypeTag("user", i32))))),
    ]
    spec = btf.parse(btf.encode(types))
    f = spec.find("f", btf.Func)
    assert f.linkage == btf.FuncLinkage.GLOBAL and f.type.variadic and f.type.params[0].name == "x"
    assert spec.find("e64", btf.Enum64).values[0].value == -5
    assert spec.find("u", btf.Fwd).is_union
    assert spec.find("tag", btf.DeclTag).type is spec.find("v", btf.Var)
    assert spec.find(".data", btf.Datasec).vars[0].type is spec.find("v")
    r = spec.find_all("user")[0]
    assert isinstance(r, btf.TypeTag) and isinstance(btf.underlying(r), btf.Int)


def test_split_btf_ids_and_strings_continue_after_base(spec: btf.Spec) -> None:
    node = spec.find("node", btf.Struct)
    b = btf.Builder(base=spec)
    mod = btf.Struct(
        "mod_state", 16, (btf.Member("head", btf.Pointer(node), 0), btf.Member("n", node.members[2].type, 64))
    )
    assert b.add(mod) == len(spec)
    split = btf.parse(b.build(), base=spec)
    assert split.split_base is spec and split.first_id == len(spec)
    got = split.find("mod_state", btf.Struct)
    assert split.type_id(got) == len(spec)
    head = got.member("head").type
    assert isinstance(head, btf.Pointer) and head.target is node  # a base type, shared
    assert split.find("node") is node and split.type_id(node) == spec.type_id(node)
    assert split.header.str_len > 0 and split.string(spec.header.str_len + 1) == "mod_state"
    assert list(dump_raw(btf.parse(btf.encode(split), base=spec))) == list(dump_raw(split))
    with pytest.raises(btf.BTFError):
        btf.parse(btf.encode(split))  # without its base the ids dangle


KDATA = __import__("pathlib").Path(__file__).resolve().parents[3] / "src" / "structops" / "kernel" / "data"


def test_pahole_split_btf_matches_bpftool() -> None:
    """The emulated kernel's module BTF (pahole split BTF) parses on its base like `bpftool -B`."""
    import shutil
    import subprocess

    base_path, mod_path = KDATA / "vmlinux.btf", KDATA / "bpf_testmod.btf"
    if not (base_path.exists() and mod_path.exists()):
        pytest.skip("no emulated-kernel BTF blobs in src/structops/kernel/data")
    base = btf.parse(base_path.read_bytes())
    mod = btf.parse(mod_path.read_bytes(), base=base)
    assert mod.first_id == len(base)
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool not installed")
    want = subprocess.run(
        ["bpftool", "-B", str(base_path), "btf", "dump", "file", str(mod_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert list(dump_raw(mod)) == want
