"""``structops run --listener / --direction``: accepted sockets and server-to-client data (issue 14)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from structops import cli
from structops.run import RunConfig, example_path

ROW = re.compile(r"^\s+(\d+)\s+(up|down)\s+([\d.]+)\s+(\S+)\s+(\S+) \(map id \d+\)\s+([\d.]+)\s", re.MULTILINE)


def _run(*extra: str) -> str:
    out = io.StringIO()
    argv = ["run", "--example", "reno", "--flows", "2", "--duration", "2", "--no-progress", *extra]
    assert cli.main(argv, stdout=out) == 0, out.getvalue()
    return out.getvalue()


def test_both_directions_report_per_direction_rates(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    text = _run("--direction", "both", "--csv", str(trace))
    rows = ROW.findall(text)
    assert [(flow, way) for flow, way, *_ in rows] == [("0", "up"), ("1", "down"), ("2", "up"), ("3", "down")]
    assert "listener with 'so_reno'" in text
    total = re.search(r"^total up ([\d.]+) Mbit/s, down ([\d.]+) Mbit/s,", text, re.MULTILINE)
    assert total is not None
    assert 15.0 < float(total.group(1)) <= 20.0 and 15.0 < float(total.group(2)) <= 20.0
    for way in ("up", "down"):  # the common-window rates add up to at most the link rate per direction
        assert sum(float(r[5]) for r in rows if r[1] == way) <= 20.0
    with trace.open() as fh:
        records = list(csv.DictReader(fh))
    assert {(r["flow"], r["direction"]) for r in records} == {("0", "up"), ("1", "down"), ("2", "up"), ("3", "down")}


def test_down_after_a_swap_keeps_the_listeners_ops() -> None:
    """A listener set up before the link update hands its old ops to later connections."""
    text = _run("--direction", "down", "--swap-example", "reno_v2", "--at", "1")
    rows = ROW.findall(text)
    assert [(way, version) for _, way, _, _, version, _ in rows] == [("down", "so_reno"), ("down", "so_reno")]
    assert float(rows[1][2]) >= 1.0  # the second connection is accepted after the update
    assert "BPF_LINK_UPDATE so_reno -> so_reno_v2" in text
    assert re.search(r"^total down [\d.]+ Mbit/s,", text, re.MULTILINE)


def test_listener_alone_leaves_client_to_server_data_unchanged() -> None:
    plain, accepted = _run(), _run("--listener")
    assert "listener with 'so_reno'" in accepted and "listener" not in plain
    assert " dir " not in accepted
    table = re.compile(r"^-+\n(.*?)^-+\n(total .*)$", re.MULTILINE | re.DOTALL)
    got, want = table.search(accepted), table.search(plain)
    assert got is not None and want is not None
    assert got.groups() == want.groups()  # the accepted sockets' CC only receives


def test_direction_option_is_checked() -> None:
    with pytest.raises(ValueError, match="--direction must be one of"):
        RunConfig(obj=example_path("reno"), direction="sideways")
    assert RunConfig(obj=example_path("reno"), direction="down").accepts
    assert not RunConfig(obj=example_path("reno")).accepts
    assert cli.main(["run", "--example", "reno", "--direction", "sideways"], stdout=io.StringIO()) == 2
