"""``struct bpf_timer`` in map values: where maps find it, which maps may hold one (issue 13).

Linux 6.18 (``btf_parse_fields`` / ``map_check_btf``): one timer per value, found in the
value's BTF (nested structs included), 8-byte aligned, and only in ARRAY, HASH and
LRU_HASH maps (others: EOPNOTSUPP).
"""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace

import pytest

from structops import btf as btflib
from structops.api import Collection
from structops.kernel.maps.timer import find_timer

OBJ = Path(__file__).resolve().parents[3] / "testdata" / "loader" / "cc_timer.bpf.o"


def _value_type() -> btflib.Type:
    spec = Collection.open(OBJ).spec
    assert spec.btf is not None
    return spec.btf.find("lo_timer_val", btflib.Struct)


@pytest.mark.parametrize("map_type", [1, 2, 9])  # HASH, ARRAY, LRU_HASH
def test_timer_found_at_its_offset_in_allowed_maps(map_type: int) -> None:
    assert find_timer(SimpleNamespace(map_type=map_type), _value_type()) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("map_type", [5, 6, 10])  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
def test_timer_in_other_maps_is_eopnotsupp(map_type: int) -> None:
    with pytest.raises(OSError) as ei:
        find_timer(SimpleNamespace(map_type=map_type), _value_type())  # type: ignore[arg-type]
    assert ei.value.errno == errno.EOPNOTSUPP


def test_value_without_timer_and_nested_timer() -> None:
    spec = Collection.open(OBJ).spec
    assert spec.btf is not None
    m = SimpleNamespace(map_type=2)
    assert find_timer(m, spec.btf.find("bpf_timer", btflib.Struct)) == 0  # type: ignore[arg-type]
    u64 = btflib.underlying(_value_type().members[1].type)  # type: ignore[attr-defined]
    assert find_timer(m, u64) is None  # type: ignore[arg-type]


def test_two_timers_in_one_value_are_einval() -> None:
    t = _value_type()
    timer = t.members[0]  # type: ignore[attr-defined]
    two = btflib.Struct(name="two", size=32, members=(timer, btflib.Member("t2", timer.type, 128)))
    with pytest.raises(OSError) as ei:
        find_timer(SimpleNamespace(map_type=2), two)  # type: ignore[arg-type]
    assert ei.value.errno == errno.EINVAL
