"""Map-in-map on the embedded kernel: the scenarios checked against Linux 6.18
(``tests/kernel/map_in_map_scenarios.py``), plus what only the embedded kernel shows:
inner maps held by the outer map and released after a grace period, the loader's
``__array(values, struct inner)`` maps with static initialisers."""

from __future__ import annotations

from collections.abc import Callable

import map_in_map_scenarios as S
import pytest

from structops.abi.attrs import MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.maps.map_in_map import ArrayOfMaps
from structops.kernel.protocol import Kernel
from structops.uapi import Cmd, MapType


@pytest.mark.parametrize("name", list(S.SCENARIOS))
def test_map_in_map_as_linux(name: str) -> None:
    """Each scenario observed on Linux 6.18 holds on the embedded kernel."""
    scenario: Callable[[Kernel], None] = S.SCENARIOS[name]
    k = EmulatedKernel()
    scenario(k)
    _no_leaks(k)  # inner maps are released with their outer maps


def test_struct_ops_map_cannot_be_inner() -> None:
    """A struct_ops map has no map_meta_equal: ENOTSUPP as inner map template (as Linux)."""
    import test_linux_scenarios as LS

    k = EmulatedKernel()
    env = LS.resolve_env(k.vmlinux_btf())
    S.scenario_struct_ops_inner(k, env.tcp_value.type_id, env.tcp_value.size)
    _no_leaks(k)


def _no_leaks(k: EmulatedKernel) -> None:
    live = k.live_objects()
    assert live["map"] == [] and live["prog"] == [], live


def test_outer_map_holds_inner_maps_until_a_grace_period() -> None:
    """The outer map's reference keeps a stored map alive after its last fd is closed; a
    deleted slot releases it only after an RCU grace period (programs may hold it)."""
    k = EmulatedKernel()
    q = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(MapType.BPF_MAP_TYPE_QUEUE), 0, 4, 4))
    outer = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS), 4, 4, 2, inner_map_fd=q))
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(outer, key=S.u32(1), value=S.u32(q)))
    inner_id = S.map_id(k, q)
    inner, _ = k.root.get_map(q)
    k.close(q)
    assert not inner.freed and inner.refcnt == 1
    with k.rcu.read_lock():  # a program running meanwhile may still use the inner map
        k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(outer, key=S.u32(1)))
        assert not inner.freed
    assert inner.freed
    assert inner_id not in k.ids["map"]
    k.close(outer)


def test_loader_creates_template_and_fills_static_slots() -> None:
    """scx_qmap's ``queue_arr`` (``__array(values, struct qmap)`` with ``.values = {[0] = &queue0,
    ...}``): the loader creates the template from the inner definition, passes its fd as
    inner_map_fd, closes it, and stores queue0..queue4 in slots 0..4 after creating the map."""
    from pathlib import Path

    from structops.api import Collection

    obj = Path("/work/ext/scx-build/scx_qmap.bpf.o")
    if not obj.is_file():
        pytest.skip(f"{obj} is absent (build sched-ext/scx scheds/c locally)")
    coll = Collection.open(obj)
    spec = coll.spec.maps["queue_arr"]
    assert spec.inner is not None and spec.inner.type == MapType.BPF_MAP_TYPE_QUEUE
    assert spec.init_slots == {i: f"queue{i}" for i in range(5)}
    k = EmulatedKernel()
    from structops.loader.load import load_objects

    struct_ops = frozenset(n for n, m in coll.spec.maps.items() if m.struct_ops is not None)
    out = load_objects(coll.spec, k, skip_maps=struct_ops, skip_programs=frozenset(coll.spec.programs))
    try:
        outer, _ = k.root.get_map(out.maps["queue_arr"])
        assert isinstance(outer, ArrayOfMaps) and outer.inner_meta is not None
        for i in range(5):
            q, _ = k.root.get_map(out.maps[f"queue{i}"])
            assert outer.slots[i] is q
        assert outer.inner_meta.max_entries == 4096 and outer.inner_meta.value_size == 4
        assert len(out.maps) == len(coll.spec.maps) - len(struct_ops)  # the template is not kept
    finally:
        for fd in out.fds():
            k.close(fd)


def test_init_slot_naming_a_missing_map_is_a_load_error() -> None:
    """An initialiser naming a map that is not created: LoadError naming the map and slot."""
    from structops.loader.load import LoadedObjects, LoadError, _init_map_in_map_slots
    from structops.loader.spec import MapKind, MapSpec

    k = EmulatedKernel()
    q = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(MapType.BPF_MAP_TYPE_QUEUE), 0, 4, 4))
    outer = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS), 4, 4, 2, inner_map_fd=q))
    m = MapSpec("arr", "arr", MapKind.BTF_DEFINED, ".maps", MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2)
    m.init_slots[1] = "nowhere"
    with pytest.raises(LoadError, match=r"slot 1 .* 'nowhere'"):
        _init_map_in_map_slots(k, m, outer, LoadedObjects())
