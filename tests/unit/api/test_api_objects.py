"""The API objects as a user meets them: reprs, ids, enums, typed map access, helpful KeyErrors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from structops.abi.consts import LinkType, MapType, ProgType
from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


@pytest.fixture
def coll() -> Iterator[Collection]:
    c = Collection.open(TESTDATA / "sockopt_cc.bpf.o").load(EmulatedKernel())
    yield c
    c.close()


def test_reprs_name_id_and_type(coll: Collection) -> None:
    m = coll.maps["so_sockopt"]
    assert repr(m) == f"<Map 'so_sockopt' id={m.id} type=struct_ops>"
    p = coll.programs["so_sockopt_init"]
    assert repr(p) == f"<Program 'so_sockopt_init' id={p.id} type=struct_ops>"
    assert repr(coll).startswith("<Collection 'sockopt_cc' loaded on embedded: maps [")
    m.close()
    assert repr(m) == "<Map 'so_sockopt' type=struct_ops (closed)>"


def test_ids_and_types_are_properties(coll: Collection) -> None:
    m, p = coll.maps[".data"], coll.programs["so_sw_init"]
    assert isinstance(m.id, int) and m.id > 0 and isinstance(p.id, int) and p.id > 0
    assert m.type is MapType.BPF_MAP_TYPE_ARRAY and p.type is ProgType.BPF_PROG_TYPE_STRUCT_OPS


def test_unknown_names_list_what_there_is(coll: Collection) -> None:
    with pytest.raises(KeyError, match=r"no map 'nope' \(there are: \.bss, \.data, .*so_sw\)"):
        coll.maps["nope"]
    with pytest.raises(KeyError, match=r"no program 'nope' \(there are: so_sockopt_cong_avoid"):
        coll.programs["nope"]


def test_link_info_type_is_the_enum(coll: Collection) -> None:
    reno = Collection.open(TESTDATA / "reno.bpf.o").load(EmulatedKernel())
    with reno, reno.maps["so_reno"].attach_struct_ops() as link:
        info = link.info()
        assert info["type"] is LinkType.BPF_LINK_TYPE_STRUCT_OPS and info["type"] == 9
        assert info["map_id"] == reno.maps["so_reno"].id
        assert repr(link) == f"<Link id={info['id']} type=struct_ops map='so_reno'>"
    with coll.maps["so_sockopt"].attach_struct_ops() as legacy:
        assert repr(legacy) == "<Link legacy map='so_sockopt'>"


def test_typed_items_get_and_set(coll: Collection) -> None:
    data = coll.maps[".data"]
    assert list(data.keys()) == [bytes(4)]
    assert list(data.items(typed=True)) == [(0, {"clamp": 20, "switch_to": b"so_sockopt"})]
    data.set(0, {"clamp": 33, "switch_to": b"reno"})
    assert data.get(0) == {"clamp": 33, "switch_to": b"reno"}
    assert coll.get_global("clamp") == 33  # the same bytes, seen through the global-variable API
    assert list(data.values()) == [data.lookup(0)]
    with pytest.raises(ValueError, match="has no variable 'nope'"):
        data.set(0, {"nope": 1})


def test_typed_access_without_btf_says_so(coll: Collection) -> None:
    ro = coll.maps[".rodata.cst16"]
    with pytest.raises(TypeError, match=r"has no BTF value type: use bytes"):
        ro.get(0)
