"""Benchmark: ``structops sweep`` on Dask with 1 and 2 workers vs a plain loop of ``structops run`` jobs.

The same grid (default: 3 algorithms x 2 flow counts x 2 buffers x 2 loss rates = 24
points of 1 simulated second) runs three ways in one invocation:

* **plain loop** -- ``structops.run.run_job`` for each point, one after the other, in this
  process (what a shell loop over ``structops run`` does, minus the interpreter start-ups);
* **sweep, 1 worker** -- ``structops.sweep.run`` on a ``LocalCluster`` of one worker process;
* **sweep, 2 workers** -- the same with two worker processes.

Each cluster is started (and warmed with a one-point sweep, as the plain loop is warmed
with one job) before the clock starts; start-up is printed separately.  The per-point
overhead of the sweep is (1-worker wall - plain wall) / points, also as a percentage of a
plain job (issue 16's target: <= 10 %).  Each configuration runs ``--repeat`` times in
turn and keeps its best wall time.  On a shared machine the 2-worker speed-up is bounded
by the free cores.

    python benchmarks/sweep_scaling.py [--duration 1s] [--repeat 2] [--seeds 1]
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import structops.sweep
from structops.run import RunConfig, run_job
from structops.sweep import Grid, parse_grid
from structops.sweep.worker import _materialise


def _grid(duration: str, seeds: int) -> Grid:
    return parse_grid(
        {
            "objects": ["reno", "cubic_like", "dctcp_like"],
            "flows": [1, 4],
            "bandwidth": "20mbit",
            "buffer": ["0.5bdp", "2bdp"],
            "loss": [0, 0.01],
            "duration": duration,
            "seeds": {"from": 1, "to": seeds, "step": 1},
        }
    )


def _plain(grid: Grid) -> float:
    """Wall time of run_job over every point, in this process."""
    files = _materialise(grid.blobs)
    configs = []
    for p in grid.points:
        o = p.options
        configs.append(
            RunConfig(
                obj=files[o["object_sha256"]],
                flows=o["flows"],
                duration_us=o["duration_us"],
                bandwidth_bps=o["bandwidth_bps"],
                rtt_us=o["rtt_us"],
                loss=o["loss"],
                seed=o["seed"],
                buffer_pkts=o["buffer_pkts"],
            )
        )
    started = time.perf_counter()
    for cfg in configs:
        run_job(cfg)
    return time.perf_counter() - started


def _cluster(workers: int) -> tuple[Any, Any, float]:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    startup = time.perf_counter() - started
    return cluster, client, startup


_JOB_WALL: dict[int, float] = {}


def _sweep(grid: Grid, client: Any) -> float:
    started = time.perf_counter()
    frame = structops.sweep.run(grid, client)
    wall = time.perf_counter() - started
    assert (frame["status"] == "ok").all(), frame[frame["status"] != "ok"]["error"].tolist()
    key = id(client)
    if len(grid) > 1:  # not the warm-up
        _JOB_WALL[key] = min(_JOB_WALL.get(key, float("inf")), frame.attrs["sweep"]["job_wall_s"])
    return wall


def main() -> None:
    """Measure the three ways side by side and print points per minute and the overhead."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--duration", default="1s", help="simulated time per point (default 1s)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per configuration (24 points each)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration; the best is kept")
    args = ap.parse_args()
    grid = _grid(args.duration, args.seeds)
    warm = parse_grid({"objects": "reno", "flows": 1, "duration": "100ms"})
    n = len(grid)

    _plain(warm)
    clusters = {w: _cluster(w) for w in (1, 2)}
    for _, client, _ in clusters.values():
        client.wait_for_workers(len(client.scheduler_info()["workers"]))
        _sweep(warm, client)
    best: dict[str, float] = {"plain": float("inf"), "1 worker": float("inf"), "2 workers": float("inf")}
    for _ in range(args.repeat):
        best["plain"] = min(best["plain"], _plain(grid))
        best["1 worker"] = min(best["1 worker"], _sweep(grid, clusters[1][1]))
        best["2 workers"] = min(best["2 workers"], _sweep(grid, clusters[2][1]))
    job_1 = _JOB_WALL[id(clusters[1][1])]
    for cluster, client, _ in clusters.values():
        client.close()
        cluster.close()

    print(f"sweep scaling: {n} points of {args.duration} simulated, best of {args.repeat}")
    print(f"{'':<12} {'wall s':>8} {'points/min':>11} {'s/point':>8}")
    for name, wall in best.items():
        print(f"{name:<12} {wall:>8.2f} {n / wall * 60:>11.1f} {wall / n:>8.3f}")
    for w, (_, _, startup) in clusters.items():
        print(f"cluster start-up with {w} worker(s): {startup:.2f} s (not in the walls above)")
    per_point = (best["1 worker"] - best["plain"]) / n
    plain_point = best["plain"] / n
    print(
        f"overhead per point (1 worker vs plain loop): {per_point * 1000:+.1f} ms "
        f"= {per_point / plain_point * 100:+.1f} % of a plain job (target <= 10 %)"
    )
    print(
        f"  of which inside the jobs (worker side): {(job_1 - best['plain']) / n * 1000:+.1f} ms/point; "
        f"scheduling and transfer: {(best['1 worker'] - job_1) / n * 1000:+.1f} ms/point"
    )
    print(f"speed-up 2 workers vs 1: {best['1 worker'] / best['2 workers']:.2f}x")


if __name__ == "__main__":
    main()
