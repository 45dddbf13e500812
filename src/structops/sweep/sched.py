"""The ``sched`` sweep kind: each point is one ``structops sched`` job (schedulers x workloads x CPUs).

The point runs the ``structops sched`` command in the worker (its public entry point,
:func:`structops.cli.main`, on a fresh embedded kernel) with ``--json`` and turns the
one JSON object it prints into one row per task.  Grid keys:

=====================  ==============================================================
``objects``            sched_ext scheduler objects (paths relative to the grid file,
                       or the names ``structops sched --example`` takes)
``cpus``               simulated CPUs (4)
``workload``           workload files (TOML, relative to the grid file) or
                       ``"default"`` for the command's default workload (default)
``duration``           simulated time, ``"1s"``; bare numbers are seconds (``"1s"``)
``seeds`` / ``seed``   simulation seeds (1)
=====================  ==============================================================

The kind registers itself only when the installed structops has the ``sched``
command; otherwise :data:`UNAVAILABLE` says why and
:func:`structops.sweep.kinds.get_kind` reports that the kind is not available.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from structops.sweep.axes import Axis, int_value, time_value
from structops.sweep.kinds import ObjectResolver, PointRun, object_entry, register_kind

__all__ = ["SchedKind"]


def _has_sched_command() -> bool:
    from structops.cli import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions if parser._subparsers is not None else []:
        choices = getattr(action, "choices", None) or {}
        if "sched" in choices:
            return True
    return False


#: Why the kind is not registered (None when it is).
UNAVAILABLE: str | None = None if _has_sched_command() else "this structops has no `structops sched` command yet"


def _invoke(argv: list[str]) -> tuple[int, str, str]:
    """Run ``structops ARGV`` in this process; (status, stdout, stderr)."""
    from structops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv, out)
    return status, out.getvalue(), err.getvalue()


def _round_int(x: float, _first: Any) -> int:
    return round(x)


def _ms(ns: Any) -> float | None:
    return None if ns is None else float(ns) / 1e6


def _group_jain(tasks: list[Mapping[str, Any]]) -> float:
    """Mean over task groups of Jain's index of runtime per unit of weight within the group.

    Tasks of a group behave alike, so the index says how evenly the scheduler served
    them (1.0 = in proportion to weight); groups differ by design and are not compared.
    """
    groups: dict[str, list[float]] = {}
    for t in tasks:
        share = float(t["runtime_ns"]) / max(float(t.get("weight") or 100), 1)
        groups.setdefault(str(t.get("group")), []).append(share)
    values = [j for j in (_jain(v) for v in groups.values()) if j == j]  # NaN: a group that never ran
    return sum(values) / len(values) if values else float("nan")


def _jain(values: list[float]) -> float:
    total = sum(values)
    squares = sum(v * v for v in values)
    return total * total / (len(values) * squares) if values and squares > 0 else float("nan")


class SchedKind:
    """``kind = "sched"``: sched_ext schedulers on the simulated machine (``structops sched``)."""

    name = "sched"
    option_columns: tuple[tuple[str, str], ...] = (
        ("object", "string"),
        ("object_sha256", "string"),
        ("map", "string"),
        ("cpus", "Int64"),
        ("workload", "string"),
        ("workload_sha256", "string"),
        ("duration_us", "Int64"),
        ("seed", "Int64"),
    )
    result_columns: tuple[tuple[str, str], ...] = (
        ("scheduler", "string"),
        ("exit_kind", "string"),
        ("exit_reason", "string"),
        ("exit_msg", "string"),
        ("pid", "Int64"),
        ("comm", "string"),
        ("group", "string"),
        ("nice", "Int64"),
        ("weight", "Int64"),
        ("runtime_ms", "float64"),
        ("wait_ms", "float64"),
        ("wait_p50_ms", "float64"),
        ("wait_p99_ms", "float64"),
        ("nr_switches", "Int64"),
        ("nr_migrations", "Int64"),
        ("cpu_share", "float64"),
        ("busy_pct", "float64"),
        ("jain", "float64"),
    )

    @property
    def examples(self) -> tuple[str, ...]:
        """The shipped example schedulers (``structops sched --example``)."""
        from structops.schedsim.examples import EXAMPLES

        return tuple(EXAMPLES)

    def example_path(self, name: str) -> Path | None:
        """The shipped example scheduler ``name``, or None."""
        from structops.schedsim.examples import example_path

        return example_path(name) if name in self.examples else None

    def axes(self, resolver: ObjectResolver) -> tuple[Axis, ...]:
        """The grid keys, in the order the cartesian product nests them."""

        obj = object_entry(resolver)

        workload_files = ObjectResolver(resolver.base, lambda _name: None)

        def workload(entry: Any) -> dict[str, Any]:
            if entry == "default":
                return {"workload": None, "workload_sha256": None}
            ref = workload_files(entry)
            resolver.blobs[ref.sha256] = workload_files.blobs[ref.sha256]
            return {"workload": ref.label, "workload_sha256": ref.sha256}

        return (
            Axis("objects", "", obj, None, aliases=("object",), help="scheduler objects or example names"),
            Axis("workload", "", workload, {"workload": None, "workload_sha256": None}, aliases=("workloads",)),
            Axis("cpus", "cpus", int_value("number of CPUs", 1), 4, number=float, unnumber=_round_int),
            Axis("duration", "duration_us", time_value("s"), 1_000_000, number=float, unnumber=_round_int),
            Axis(
                "seeds",
                "seed",
                int_value("seed", 0),
                1,
                aliases=("seed",),
                number=float,
                unnumber=_round_int,
            ),
        )

    def complete(self, options: dict[str, Any]) -> dict[str, Any]:
        """Nothing to derive; the command checks the rest."""
        return options

    def run_point(self, options: Mapping[str, Any], files: Mapping[str, Path], trace: bool) -> PointRun:
        """Run ``structops sched OBJ --json`` for the point; one row per task."""
        with tempfile.TemporaryDirectory(prefix="structops-sweep-sched-") as tmp:
            argv = ["sched", str(files[options["object_sha256"]]), "--json", "--no-progress"]
            argv += ["--cpus", str(options["cpus"]), "--seed", str(options["seed"])]
            argv += ["--duration", f"{options['duration_us'] / 1e6:g}s"]
            if options["map"]:
                argv += ["--map", str(options["map"])]
            if options["workload_sha256"]:
                path = Path(tmp) / Path(str(options["workload"])).name
                shutil.copyfile(files[options["workload_sha256"]], path)
                argv += ["--workload", str(path)]
            trace_path = Path(tmp) / "trace.json"
            if trace:
                argv += ["--trace", str(trace_path)]
            status, out, err = _invoke(argv)
            if status != 0:
                last = (err.strip().splitlines() or [""])[-1]
                raise RuntimeError(f"structops sched exited with status {status}: {last}")
            report = json.loads(out)
            text = trace_path.read_text() if trace and trace_path.is_file() else None
        return PointRun(self._rows(report, options), text)

    @staticmethod
    def _rows(report: Mapping[str, Any], options: Mapping[str, Any]) -> list[dict[str, Any]]:
        duration_ns = float(report.get("duration_ns") or options["duration_us"] * 1000)
        per_cpu = next(
            (v for v in report.values() if isinstance(v, list) and v and isinstance(v[0], dict) and "busy_ns" in v[0]),
            [],
        )
        ncpu = len(per_cpu) or int(options["cpus"])
        busy = sum(float(c["busy_ns"]) for c in per_cpu)
        tasks = list(report.get("tasks", []))
        exit_info = report.get("exit") or {}
        point = {
            "scheduler": report.get("scheduler"),
            "exit_kind": exit_info.get("kind"),
            "exit_reason": exit_info.get("reason"),
            "exit_msg": exit_info.get("msg"),
            "busy_pct": 100 * busy / (ncpu * duration_ns) if per_cpu else None,
            "jain": _group_jain(tasks),
        }
        return [
            {
                **point,
                "pid": t.get("pid"),
                "comm": t.get("comm"),
                "group": t.get("group"),
                "nice": t.get("nice"),
                "weight": t.get("weight"),
                "runtime_ms": float(t["runtime_ns"]) / 1e6,
                "wait_ms": float(t.get("wait_ns", 0)) / 1e6,
                "wait_p50_ms": _ms(t.get("wait_p50_ns")),
                "wait_p99_ms": _ms(t.get("wait_p99_ns")),
                "nr_switches": t.get("nr_switches"),
                "nr_migrations": t.get("nr_migrations"),
                "cpu_share": float(t["runtime_ns"]) / (ncpu * duration_ns),
            }
            for t in tasks
        ]

    def algorithm(self, options: Mapping[str, Any]) -> str:
        """The scheduler object's label."""
        return str(options["object"])


if UNAVAILABLE is None:
    register_kind(SchedKind())
