"""``structops sweep`` on real Dask clusters: a LocalCluster, a separately started scheduler and
workers, a worker killed mid-sweep, an interrupted sweep resumed (issue 16's done-when).

Every cluster here is made of real processes on 127.0.0.1, started and torn down by the test.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client, LocalCluster

import structops.sweep
from structops.cli import main
from structops.sweep import load_grid
from structops.sweep.store import outcome_rows, table
from structops.sweep.worker import Task, execute

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"

GRID_TOML = """
# 3 x 2 x 2 x 2 = 24 short points
objects = ["reno", "cubic_like", "dctcp_like"]
flows = [1, 2]
bandwidth = "10mbit"
rtt = "20ms"
buffer = ["0.5bdp", "2bdp"]
loss = [0, 0.01]
duration = "300ms"
seeds = 1
"""


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "study.toml"
    path.write_text(GRID_TOML)
    return path


@pytest.fixture(scope="module")
def reference(grid_file: Path) -> pd.DataFrame:
    """The table of a plain in-process loop over the points (no Dask)."""
    grid = load_grid(grid_file)
    assert len(grid) == 24
    rows = []
    for p in grid.points:
        outcome = execute(Task(p.kind, p.point_id, dict(p.options), False, grid.blobs))
        assert outcome.error is None
        rows += outcome_rows(p, outcome)
    return table(grid, rows)


@pytest.fixture(scope="module")
def local_table(grid_file: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local")
    frame = structops.sweep.run(grid_file, workers=2, out=out)
    assert frame.attrs["sweep"]["workers"] == 2
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), frame)
    return frame


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` + 2 `dask worker` processes on 127.0.0.1; yields the scheduler address."""
    tmp = tmp_path_factory.mktemp("dask")
    sched_file = tmp / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            _start(
                [
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(sched_file),
                ],
                tmp / "scheduler.log",
            )
        )
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert procs[0].poll() is None, (tmp / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        for i in range(2):
            procs.append(
                _start(
                    [
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        f"w{i}",
                    ],
                    tmp / f"worker{i}.log",
                )
            )
        with Client(scheduler_file=str(sched_file)) as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_local_cluster_matches_a_plain_loop(local_table: pd.DataFrame, reference: pd.DataFrame) -> None:
    """24 points on a 2-worker LocalCluster: the same table as running the jobs one by one."""
    assert len(local_table["point_id"].unique()) == 24 and (local_table["status"] == "ok").all()
    assert len(local_table) == 36  # 12 one-flow and 12 two-flow points
    pd.testing.assert_frame_equal(local_table, reference)


def test_external_scheduler_gives_the_same_table(
    external_scheduler: str, grid_file: Path, local_table: pd.DataFrame, tmp_path: Path
) -> None:
    out = io.StringIO()
    status = main(
        ["sweep", str(grid_file), "--scheduler", external_scheduler, "--out", str(tmp_path), "--no-progress"], out
    )
    assert status == 0, out.getvalue()
    assert "ran 24 points (0 already done) on 2 workers" in out.getvalue()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), local_table)
    csv = pd.read_csv(tmp_path / "results.csv")
    assert csv["throughput_mbps"].tolist() == pytest.approx(local_table["throughput_mbps"].astype(float).tolist())


def test_failing_points_are_recorded_and_the_sweep_goes_on(external_scheduler: str, tmp_path: Path) -> None:
    (tmp_path / "junk.bpf.o").write_bytes(b"\x7fELF" + b"\0" * 60)
    grid = tmp_path / "bad.toml"
    grid.write_text(
        f'objects = ["reno", "junk.bpf.o", "{TESTDATA / "bad_license.bpf.o"}"]\n'
        'flows = [1, 2]\nduration = "200ms"\ntraces = true\n'
    )
    out = io.StringIO()
    status = main(["sweep", str(grid), "--scheduler", external_scheduler, "--out", str(tmp_path / "o")], out)
    assert status == 1
    frame = pd.read_parquet(tmp_path / "o" / "results.parquet")
    statuses = {obj: set(frame.loc[frame["object"] == obj, "status"]) for obj in frame["object"].unique()}
    assert statuses == {"reno": {"ok"}, "junk.bpf.o": {"error"}, str(TESTDATA / "bad_license.bpf.o"): {"error"}}
    errors = frame[frame["status"] == "error"]
    assert len(errors) == 4 and errors["flow"].isna().all()
    assert all(e.startswith("ELFError: ") for e in errors[errors["object"] == "junk.bpf.o"]["error"])
    assert all("GPL compatible license" in e for e in errors[errors["object"] != "junk.bpf.o"]["error"])
    assert "4 failed" in out.getvalue() and "VerifierError" in out.getvalue()
    traces = sorted(p.stem for p in (tmp_path / "o" / "traces").iterdir())
    assert traces == sorted(frame.loc[frame["status"] == "ok", "point_id"].unique())
    for pid in traces:
        lines = (tmp_path / "o" / "traces" / f"{pid}.csv").read_text().splitlines()
        assert lines[0].startswith("flow,t_us,cwnd") and len(lines) > 2


def _sweep_killing_a_worker(client: Client, grid_file: Path, out: Path) -> pd.DataFrame:
    client.wait_for_workers(2, timeout=60)
    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[0]]
    killed: list[int] = []

    def on_point(point: object, outcome: object) -> None:
        if not killed:
            killed.append(victim)
            os.kill(victim, signal.SIGKILL)

    frame = structops.sweep.run(grid_file, client, out=out, on_point=on_point)
    assert killed
    return frame


def _check_no_point_lost(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    assert sorted(frame["point"].unique().tolist()) == list(range(24))
    ok = frame[frame["status"] == "ok"]
    failed = frame[frame["status"] != "ok"]
    expected = reference[reference["point_id"].isin(ok["point_id"])]
    pd.testing.assert_frame_equal(ok.reset_index(drop=True), expected.reset_index(drop=True))
    assert all("worker process died while running this point" in e for e in failed["error"])
    assert frame.attrs["sweep"]["failed"] == failed["point_id"].nunique()
    return failed


def test_killed_worker_loses_no_point(grid_file: Path, reference: pd.DataFrame, tmp_path: Path) -> None:
    """SIGKILL a worker after the first point: its points are retried elsewhere, or reported."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        # default allowed-failures (3): the tasks of the dead worker run again on the other one
        retried = _sweep_killing_a_worker(client, grid_file, tmp_path / "retried")
        assert _check_no_point_lost(retried, reference).empty
        # no retries allowed: the point that was running is reported as failed, the rest complete
        cluster.scheduler.allowed_failures = 0
        reported = _sweep_killing_a_worker(client, grid_file, tmp_path / "reported")
        assert not _check_no_point_lost(reported, reference).empty


class _Interrupt(Exception):
    pass


def test_resume_completes_an_interrupted_sweep(
    external_scheduler: str, grid_file: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    count = 0

    def stop_after_eight(point: object, outcome: object) -> None:
        nonlocal count
        count += 1
        if count == 8:
            raise _Interrupt

    with pytest.raises(_Interrupt), Client(external_scheduler) as client:
        structops.sweep.run(grid_file, client, out=tmp_path, on_point=stop_after_eight)
    assert not (tmp_path / "results.parquet").exists()
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 8
    out = io.StringIO()
    args = ["sweep", str(grid_file), "--out", str(tmp_path), "--resume", "--scheduler", external_scheduler]
    status = main([*args, "--no-progress"], out)
    assert status == 0
    assert "ran 16 points (8 already done)" in out.getvalue()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), reference)
    assert not (tmp_path / "journal.jsonl").exists()
    # resuming a complete output runs nothing
    out = io.StringIO()
    assert main([*args, "--progress"], out) == 0
    assert "ran 0 points (24 already done)" in out.getvalue()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), reference)


def test_sched_sweep_on_the_external_cluster(external_scheduler: str, tmp_path: Path) -> None:
    """kind = "sched": schedulers x CPUs on the separately started cluster, same rows as in-process."""
    import structops.sweep.sched as sched_kind

    if sched_kind.UNAVAILABLE is not None:
        pytest.skip(sched_kind.UNAVAILABLE)
    grid_file = tmp_path / "sched.toml"
    grid_file.write_text('kind = "sched"\nobjects = ["fifo", "vtime"]\ncpus = [1, 2]\nduration = "50ms"\n')
    out = io.StringIO()
    status = main(["sweep", str(grid_file), "--scheduler", external_scheduler, "--out", str(tmp_path / "o")], out)
    assert status == 0, out.getvalue()
    frame = pd.read_parquet(tmp_path / "o" / "results.parquet")
    grid = load_grid(grid_file)
    rows = []
    for p in grid.points:
        rows += outcome_rows(p, execute(Task(p.kind, p.point_id, dict(p.options), False, grid.blobs)))
    pd.testing.assert_frame_equal(frame, table(grid, rows))
    assert set(frame["scheduler"]) == {"sx_fifo", "sx_vtime"} and frame["exit_kind"].isna().all()
    assert main(["sweep-plot", str(tmp_path / "o")], io.StringIO()) == 0
    assert (tmp_path / "o" / "plots" / "busy_vs_cpus.png").is_file()
