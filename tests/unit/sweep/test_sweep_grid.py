"""Sweep grids: keys, values, ranges, filters, objects and stable point ids (structops.sweep.grid)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops.run import example_path
from structops.sweep import GridError, load_grid, parse_grid
from structops.sweep.axes import Axis, expand_values
from structops.sweep.tcp import TcpKind

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def test_issue_example_grid_expands_to_the_cartesian_product(tmp_path: Path) -> None:
    shutil.copy(TESTDATA / "reno.bpf.o", tmp_path / "my_cc.bpf.o")
    grid_file = tmp_path / "study.toml"
    grid_file.write_text(
        """
objects = ["reno", "cubic_like", "my_cc.bpf.o"]
flows = [1, 4]
bandwidth = ["20mbit", "100mbit"]
rtt = ["20ms"]
buffer = ["0.5bdp", "1bdp", "2bdp"]
loss = [0, 0.001]
duration = "10s"
seeds = [1, 2, 3]
"""
    )
    grid = load_grid(grid_file)
    assert len(grid) == 3 * 2 * 2 * 1 * 3 * 2 * 3
    assert grid.name == "study" and grid.kind == "tcp"
    first = grid.points[0].options
    assert first["object"] == "reno" and first["flows"] == 1 and first["bandwidth_bps"] == 20_000_000
    assert first["rtt_us"] == 20_000 and first["duration_us"] == 10_000_000 and first["seed"] == 1
    # 20 Mbit/s x 20 ms = 33.3 packets of 1500 bytes: half a BDP is 17 packets
    assert first["buffer"] == "0.5bdp" and first["buffer_pkts"] == 17
    assert first["buffer_bdp"] == pytest.approx(17 / (20e6 * 0.02 / 12000))
    # the last key varies fastest
    assert [p.options["seed"] for p in grid.points[:3]] == [1, 2, 3]
    assert [p.index for p in grid.points] == list(range(len(grid)))
    assert len({p.point_id for p in grid.points}) == len(grid)
    # the local object and the shipped reno have the same bytes but different labels
    mine = [p for p in grid.points if p.options["object"] == "my_cc.bpf.o"]
    assert mine and mine[0].options["object_sha256"] == first["object_sha256"]
    assert set(grid.blobs) == {first["object_sha256"], grid.points[-1].options["object_sha256"]} | {
        p.options["object_sha256"] for p in grid.points
    }
    assert grid.blobs[first["object_sha256"]] == example_path("reno").read_bytes()


def test_defaults_are_those_of_structops_run() -> None:
    grid = parse_grid({"objects": "reno"})
    (point,) = grid.points
    o = point.options
    assert (o["flows"], o["bandwidth_bps"], o["rtt_us"], o["loss"], o["seed"]) == (4, 20_000_000, 20_000, 0.0, 1)
    assert o["duration_us"] == 10_000_000 and o["ecn_threshold_pkts"] is None and o["swap"] is None
    assert o["buffer"] == "auto" and o["buffer_pkts"] == 33  # one BDP (>= 10), as RunConfig.buffer


def test_ranges_step_count_and_log() -> None:
    grid = parse_grid(
        {
            "objects": "reno",
            "flows": {"from": 1, "to": 7, "step": 2},
            "bandwidth": {"from": "10mbit", "to": "1gbit", "count": 3, "scale": "log"},
            "buffer": [{"from": "0.5bdp", "to": "2bdp", "count": 4}, 64],
            "loss": {"from": 0, "to": 0.02, "step": 0.01},
        }
    )
    values = {k: sorted({p.options[k] for p in grid.points}, key=str) for k in ("flows", "bandwidth_bps", "loss")}
    assert values["flows"] == [1, 3, 5, 7]
    assert sorted(values["bandwidth_bps"]) == [10_000_000, 100_000_000, 1_000_000_000]
    assert values["loss"] == [0.0, 0.01, 0.02]
    buffers = []
    for p in grid.points:
        if p.options["buffer"] not in buffers:
            buffers.append(p.options["buffer"])
    assert buffers == ["0.5bdp", "1bdp", "1.5bdp", "2bdp", "64"]
    assert len(grid) == 4 * 3 * 5 * 3


def test_exclude_rules_drop_matching_points() -> None:
    grid = parse_grid(
        {
            "objects": ["reno", "dctcp_like"],
            "ecn_threshold": ["off", 20],
            "loss": [0, 0.01],
            "exclude": [{"objects": "reno", "ecn_threshold": 20}, {"loss": 0.01, "objects": ["dctcp_like"]}],
        }
    )
    combos = {(p.options["object"], p.options["ecn_threshold_pkts"], p.options["loss"]) for p in grid.points}
    assert combos == {("reno", None, 0.0), ("reno", None, 0.01), ("dctcp_like", None, 0.0), ("dctcp_like", 20, 0.0)}
    assert grid.excluded == 4


def test_point_ids_survive_growing_the_grid() -> None:
    small = parse_grid({"objects": "reno", "flows": [1, 2]})
    big = parse_grid({"objects": ["cubic_like", "reno"], "flows": [1, 2, 4], "seeds": [1]})
    big_ids = {p.point_id for p in big.points}
    assert {p.point_id for p in small.points} <= big_ids
    # a changed option is a different point
    other = parse_grid({"objects": "reno", "flows": [1, 2], "seeds": 2})
    assert not {p.point_id for p in other.points} & {p.point_id for p in small.points}


def test_duplicate_values_collapse() -> None:
    grid = parse_grid({"objects": ["reno", "reno"], "rtt": ["20ms", 20, "20000us"], "buffer": [64, "64p", "64pkts"]})
    assert len(grid) == 1


def test_swap_schedules() -> None:
    grid = parse_grid({"objects": "reno", "swap": ["none", {"object": "reno_v2", "at": "0.5s"}], "duration": "1s"})
    assert [p.options["swap"] for p in grid.points] == [None, "reno_v2"]
    swapped = grid.points[1]
    assert swapped.options["swap_at_us"] == 500_000 and swapped.algorithm == "reno->reno_v2@0.5s"
    assert swapped.options["swap_sha256"] in grid.blobs


def test_object_table_with_map_and_name(tmp_path: Path) -> None:
    shutil.copy(TESTDATA / "reno.bpf.o", tmp_path / "cc.o")
    grid = parse_grid({"objects": [{"path": "cc.o", "map": "so_reno", "name": "mine"}]}, tmp_path)
    (point,) = grid.points
    assert point.options["object"] == "mine" and point.options["map"] == "so_reno" and point.algorithm == "mine"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "objects: required"),
        ({"objects": "reno", "flow": 2}, "unknown key(s) 'flow'"),
        ({"objects": "vegas"}, "cannot read object 'vegas'"),
        ({"objects": "reno", "flows": 0}, "flows: number of flows must be >= 1"),
        ({"objects": "reno", "flows": 1.5}, "flows: expected an integer"),
        ({"objects": "reno", "bandwidth": "fast"}, "bandwidth: bad rate 'fast'"),
        ({"objects": "reno", "rtt": "-3ms"}, "rtt: bad time"),
        ({"objects": "reno", "loss": 1}, "loss: loss is a probability"),
        ({"objects": "reno", "buffer": "big"}, "buffer: bad buffer 'big'"),
        ({"objects": "reno", "buffer": 0}, "at least 1 packet"),
        ({"objects": "reno", "flows": []}, "flows: the list is empty"),
        ({"objects": "reno", "flows": {"from": 1, "to": 4}}, "exactly one of 'step' or 'count'"),
        ({"objects": "reno", "flows": {"from": 1, "step": 1}}, "needs 'from' and 'to'"),
        ({"objects": "reno", "flows": {"from": 4, "to": 1, "step": 1}}, "'from' is above 'to'"),
        ({"objects": "reno", "loss": {"from": 0, "to": 0.1, "count": 3, "scale": "log"}}, "positive ends"),
        ({"objects": "reno", "flows": {"from": 1, "to": 9, "count": 3, "by": 2}}, "unknown range field(s) by"),
        ({"objects": "reno", "seeds": 1, "seed": 2}, "give only one of seeds / seed"),
        ({"objects": "reno", "exclude": [{"flws": 1}]}, "exclude[0]: unknown key 'flws'"),
        ({"objects": "reno", "exclude": [{"objects": "reno"}]}, "no points"),
        ({"objects": "reno", "traces": "yes"}, "traces: expected true or false"),
        ({"objects": "reno", "kind": "gpu"}, "unknown kind 'gpu'"),
        ({"objects": "reno", "swap": {"object": "reno_v2", "at": "20s"}}, "--at must lie inside the run"),
        ({"objects": "reno", "swap": {"object": "reno_v2"}}, "a swap table has 'object' and 'at'"),
        ({"objects": "reno", "flows": {"from": 1, "to": 100000, "step": 1}}, "at most 10000"),
    ],
)
def test_bad_grids_say_what_is_wrong(table: dict[str, object], message: str) -> None:
    with pytest.raises(GridError) as info:
        parse_grid(table)
    assert message in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="cannot read grid file"):
        load_grid(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("objects = [reno\n")
    with pytest.raises(GridError, match="not valid TOML"):
        load_grid(bad)
    rel = tmp_path / "rel.toml"
    rel.write_text('objects = ["nothere.bpf.o"]\n')
    with pytest.raises(GridError, match=r"nothere\.bpf\.o.*shipped example name \(.*reno"):
        load_grid(rel)


_FLOWS = next(a for a in TcpKind().axes(None) if a.key == "flows")  # type: ignore[arg-type]
_LOSS = next(a for a in TcpKind().axes(None) if a.key == "loss")  # type: ignore[arg-type]


@given(lo=st.integers(1, 50), span=st.integers(0, 200), count=st.integers(1, 40))
def test_count_ranges_keep_both_ends_and_order(lo: int, span: int, count: int) -> None:
    values = expand_values(_FLOWS, {"from": lo, "to": lo + span, "count": count})
    assert values[0] == lo and (values[-1] == lo + span or count == 1)
    assert values == sorted(set(values)) and len(values) <= count


@given(step_pct=st.integers(1, 50), hi_pct=st.integers(0, 99))
def test_step_ranges_stay_inside(step_pct: int, hi_pct: int) -> None:
    step, hi = step_pct / 100, hi_pct / 100
    values = expand_values(_LOSS, {"from": 0, "to": hi, "step": step})
    assert values[0] == 0.0 and all(0 <= v <= hi + 1e-9 for v in values)
    assert len(values) == math.floor(hi / step + 1e-9) + 1


def test_axes_without_numbers_refuse_ranges() -> None:
    axis = Axis("name", "name", str, "x")
    assert expand_values(axis, ["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(GridError, match="ranges are not supported"):
        expand_values(Axis("n", "n", int, 0, number=None), [{"from": 1, "to": 2, "step": 1}])


_SCALARS = st.one_of(
    st.integers(-5, 200),
    st.floats(-1, 2),
    st.sampled_from([float("nan"), float("inf"), 1e30]),
    st.booleans(),
    st.sampled_from(["20mbit", "20ms", "0.5bdp", "off", "auto", "none", "10s", "x", "", "reno", "64pkts", "-1"]),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.sampled_from(["from", "to", "step", "count", "scale", "object", "at"]), _SCALARS, max_size=4),
)
_KEYS = st.sampled_from(
    ["flows", "bandwidth", "rtt", "buffer", "loss", "ecn_threshold", "duration", "seeds", "swap", "traces"]
)
_KEYS = st.one_of(_KEYS, st.sampled_from(["kind", "exclude", "name", "bogus"]))


@given(extra=st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_any_grid_table_expands_or_raises_grid_error(extra: dict[str, object]) -> None:
    """Whatever the values, parse_grid gives a Grid or a GridError (never another exception)."""
    table = {"objects": "reno", **extra}
    try:
        grid = parse_grid(table)
    except GridError as exc:
        assert str(exc)
        return
    assert len(grid) >= 1 and len({p.point_id for p in grid.points}) == len(grid)
    for p in grid.points:
        assert p.options["flows"] >= 1 and 0 <= p.options["loss"] < 1 and p.options["buffer_pkts"] >= 1
