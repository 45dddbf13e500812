"""``structops run``: the main job end to end, in process (cli.main with a StringIO)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from structops import cli
from structops.run import RunConfig, example_path, parse_rate, parse_time_us

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def test_example_one_liner_swaps_and_writes_csv_and_plot(tmp_path: Path) -> None:
    """The README command (shortened): summary, swap note, struct_ops listing, CSV, PNG."""
    out = io.StringIO()
    plot, trace = tmp_path / "out.png", tmp_path / "trace.csv"
    argv = ["run", "--example", "reno", "--swap-example", "reno_v2", "--at", "1", "--duration", "2"]
    status = cli.main([*argv, "--plot", str(plot), "--csv", str(trace), "--no-progress"], stdout=out)
    text = out.getvalue()
    assert status == 0, text
    assert "BPF_LINK_UPDATE so_reno -> so_reno_v2" in text
    listing = re.findall(r"^  (\d+): (\S+)\s+(\S+)\s*$", text, re.MULTILINE)
    assert [(name, kind) for _, name, kind in listing] == [
        ("so_reno", "tcp_congestion_ops"),
        ("so_reno_v2", "tcp_congestion_ops"),
    ]
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+so_reno\s+(\S+) \(map id (\d+)\)", text, re.MULTILINE)
    assert [(flow, version) for flow, _, version, _ in rows] == [
        ("0", "so_reno"),
        ("1", "so_reno"),
        ("2", "so_reno_v2"),
        ("3", "so_reno_v2"),
    ]
    assert all(float(start) >= 1.0 for _, start, version, _ in rows if version == "so_reno_v2")
    util = float(re.search(r"utilisation ([\d.]+)%", text).group(1))  # type: ignore[union-attr]
    assert 50.0 < util <= 100.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with trace.open() as fh:
        records = list(csv.DictReader(fh))
    assert {r["flow"] for r in records} == {"0", "1", "2", "3"}
    assert all(int(r["cwnd"]) > 0 for r in records)


def test_object_path_and_legacy_map_run(tmp_path: Path) -> None:
    """A legacy (.struct_ops) object registers without a link and runs."""
    out = io.StringIO()
    status = cli.main(
        ["run", str(TESTDATA / "reno_legacy.bpf.o"), "--flows", "2", "--duration", "0.5", "--no-progress"], stdout=out
    )
    assert status == 0, out.getvalue()
    assert "so_reno" in out.getvalue()


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["run"], 2),  # neither OBJ nor --example
        (["run", "--example", "reno", "x.o"], 2),  # both
        (["run", "--example", "reno", "--swap-example", "reno_v2"], 2),  # --swap without --at
        (["run", "--example", "reno", "--bandwidth", "fast"], 2),
        (["run", "/nonexistent.bpf.o"], 2),
        (["run", "--example", "reno", "--flows", "0"], 2),
    ],
)
def test_bad_options_exit_2(argv: list[str], status: int) -> None:
    """Usage errors are reported, not raised."""
    assert cli.main(argv, stdout=io.StringIO()) == status


def test_swap_from_legacy_map_is_refused() -> None:
    """BPF_LINK_UPDATE needs a link: a legacy registration cannot be swapped (EINVAL -> 1)."""
    argv = ["run", str(TESTDATA / "reno_legacy.bpf.o"), "--swap-example", "reno_v2", "--at", "0.1"]
    assert cli.main([*argv, "--duration", "0.2", "--no-progress"], stdout=io.StringIO()) == 1


def test_swap_to_legacy_object_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """A legacy map cannot be swapped in (the kernel's link update wants a map created
    with BPF_F_LINK, else EINVAL): a clear message and exit status 1, as before."""
    argv = ["run", "--example", "reno", "--swap", str(TESTDATA / "reno_legacy.bpf.o"), "--at", "0.1"]
    assert cli.main([*argv, "--duration", "0.2", "--no-progress"], stdout=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "legacy struct_ops map" in err and ".struct_ops.link" in err and "so_reno" in err
    assert "EEXIST" not in err


def test_unit_parsers() -> None:
    """Rates and times with units."""
    assert parse_rate("20mbit") == 20_000_000
    assert parse_rate("1.5G") == 1_500_000_000
    assert parse_time_us("20ms") == 20_000
    assert parse_time_us("2", "s") == 2_000_000
    for bad in ("", "-3mbit", "0", "x"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_swap_schedule_starts_half_the_flows_after_the_swap() -> None:
    """With a swap, the late half of the flows connects after T."""
    cfg = RunConfig(obj=example_path("reno"), flows=5, swap=example_path("reno_v2"), swap_at_us=3_000_000)
    starts = cfg.start_times_us()
    assert sum(t < 3_000_000 for t in starts) == 3
    assert sum(t > 3_000_000 for t in starts) == 2
    with pytest.raises(ValueError):
        RunConfig(obj=example_path("reno"), swap=example_path("reno_v2"))
