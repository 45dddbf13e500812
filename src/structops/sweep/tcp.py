"""The ``tcp`` sweep kind: each point is one ``structops run`` job (:func:`structops.run.run_job`).

Grid keys (a value, a list, or a range table; see :mod:`structops.sweep.axes`):

========================  ==========================================================
``objects``               shipped example names (``structops.run.EXAMPLES``) or object
                          paths relative to the grid file; a table
                          ``{ path = "x.bpf.o", map = "so_x", name = "x" }`` picks the
                          struct_ops map and the label
``flows``                 bulk flows (4)
``bandwidth``             bottleneck rate, ``"20mbit"`` or bit/s (``"20mbit"``)
``rtt``                   base RTT, ``"20ms"``; bare numbers are ms (``"20ms"``)
``buffer``                packets (``64``), BDP multiples (``"0.5bdp"``) or ``"auto"``
                          (``structops run``'s default: one BDP, at least 10 packets)
``loss``                  random loss probability per data packet (0)
``ecn_threshold``         CE-mark above this many queued packets, or ``"off"`` (off)
``duration``              simulated time, ``"10s"``; bare numbers are seconds (``"10s"``)
``seeds`` / ``seed``      simulation seeds (1)
``swap``                  ``"none"`` or ``{ object = "reno_v2", at = "5s", map = "..." }``:
                          BPF_LINK_UPDATE to that object's map at ``at`` (``"none"``)
========================  ==========================================================

Every point runs on a fresh embedded kernel in the worker, so its result depends only on
its options (and the object bytes): the same point gives the same rows on any worker.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from structops.sweep.axes import Axis, int_value, time_value
from structops.sweep.kinds import ObjectResolver, PointRun, object_entry, register_kind

__all__ = ["TcpKind"]

_BUFFER = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(bdp|p|pkts?|packets?)?\s*$", re.IGNORECASE)
_OFF = ("off", "none", "no")


def _rate(value: Any) -> int:
    from structops.run import parse_rate

    if isinstance(value, bool):
        raise ValueError(f"bad rate {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 1:
            raise ValueError(f"rate must be a positive number of bit/s, got {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"bad rate {value!r} (examples: 20mbit, 1G)")
    return parse_rate(value)


def _loss(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"loss is a probability in [0, 1), got {value!r}")
    return float(value)


def _buffer(value: Any) -> str:
    """Normalised buffer label: ``"64"`` (packets), ``"0.5bdp"`` or ``"auto"``."""
    if isinstance(value, bool):
        raise ValueError(f"bad buffer {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"the buffer must hold at least 1 packet, got {value}")
        return str(value)
    if isinstance(value, str):
        if value.strip().lower() in ("auto", "default"):
            return "auto"
        m = _BUFFER.match(value)
        if m is not None:
            amount = float(m.group(1))
            if (m.group(2) or "").lower() == "bdp":
                if amount <= 0:
                    raise ValueError(f"a BDP multiple must be positive, got {value!r}")
                return f"{amount:g}bdp"
            if amount == int(amount) and amount >= 1:
                return str(int(amount))
    raise ValueError(f"bad buffer {value!r} (packets like 64, BDP multiples like '0.5bdp', or 'auto')")


def _buffer_number(label: Any) -> float:
    if label == "auto":
        raise ValueError("'auto' cannot be a range end")
    return float(str(label).removesuffix("bdp"))


def _buffer_unnumber(x: float, first: Any) -> str:
    if str(first).endswith("bdp"):
        return f"{round(x, 6):g}bdp"
    return str(max(round(x), 1))


def _ecn(value: Any) -> int | None:
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    return int(int_value("ECN threshold (packets)", 1)(value))


def _round_int(x: float, _first: Any) -> int:
    return round(x)


def _same_float(x: float, _first: Any) -> float:
    return round(x, 12)


class TcpKind:
    """``kind = "tcp"``: congestion controls on simulated flows (``structops run``)."""

    name = "tcp"

    @property
    def examples(self) -> tuple[str, ...]:
        """The shipped example objects (``structops run --example``)."""
        from structops.run import EXAMPLES

        return tuple(EXAMPLES)

    option_columns: tuple[tuple[str, str], ...] = (
        ("object", "string"),
        ("object_sha256", "string"),
        ("map", "string"),
        ("flows", "Int64"),
        ("bandwidth_bps", "Int64"),
        ("rtt_us", "Int64"),
        ("buffer", "string"),
        ("buffer_pkts", "Int64"),
        ("buffer_bdp", "float64"),
        ("loss", "float64"),
        ("ecn_threshold_pkts", "Int64"),
        ("duration_us", "Int64"),
        ("seed", "Int64"),
        ("swap", "string"),
        ("swap_sha256", "string"),
        ("swap_map", "string"),
        ("swap_at_us", "Int64"),
    )
    result_columns: tuple[tuple[str, str], ...] = (
        ("cc", "string"),
        ("flow", "Int64"),
        ("start_us", "Int64"),
        ("version", "string"),
        ("throughput_mbps", "float64"),
        ("retransmits", "Int64"),
        ("avg_rtt_ms", "float64"),
        ("queue_delay_ms", "float64"),
        ("jain", "float64"),
        ("utilisation", "float64"),
        ("total_mbps", "float64"),
        ("events", "Int64"),
    )

    def example_path(self, name: str) -> Path | None:
        """The shipped example object ``name``, or None when it is not an example name."""
        from structops.run import EXAMPLES, example_path

        return example_path(name) if name in EXAMPLES else None

    def axes(self, resolver: ObjectResolver) -> tuple[Axis, ...]:
        """The grid keys, in the order the cartesian product nests them."""

        obj = object_entry(resolver)

        none_swap = {"swap": None, "swap_sha256": None, "swap_map": None, "swap_at_us": None}

        def swap(entry: Any) -> dict[str, Any]:
            if entry is False or (isinstance(entry, str) and entry.strip().lower() in _OFF):
                return dict(none_swap)
            if not isinstance(entry, Mapping):
                raise ValueError(f"a swap is 'none' or {{ object = ..., at = ... }}, got {entry!r}")
            unknown = set(entry) - {"object", "at", "map"}
            if unknown or "object" not in entry or "at" not in entry:
                raise ValueError("a swap table has 'object' and 'at' (and optionally 'map')")
            ref = resolver(entry["object"])
            at = time_value("s")(entry["at"])
            return {"swap": ref.label, "swap_sha256": ref.sha256, "swap_map": entry.get("map"), "swap_at_us": at}

        return (
            Axis("objects", "", obj, None, aliases=("object",), help="example names or object paths"),
            Axis("swap", "", swap, dict(none_swap), aliases=("swaps",), help="'none' or {object, at}"),
            Axis("flows", "flows", int_value("number of flows", 1), 4, number=float, unnumber=_round_int),
            Axis("bandwidth", "bandwidth_bps", _rate, 20_000_000, number=float, unnumber=_round_int),
            Axis("rtt", "rtt_us", time_value("ms"), 20_000, number=float, unnumber=_round_int),
            Axis("buffer", "buffer", _buffer, "auto", number=_buffer_number, unnumber=_buffer_unnumber),
            Axis("loss", "loss", _loss, 0.0, number=float, unnumber=_same_float),
            Axis("ecn_threshold", "ecn_threshold_pkts", _ecn, None, number=float, unnumber=_round_int),
            Axis("duration", "duration_us", time_value("s"), 10_000_000, number=float, unnumber=_round_int),
            Axis("seeds", "seed", int_value("seed", 0), 1, aliases=("seed",), number=float, unnumber=_round_int),
        )

    def complete(self, options: dict[str, Any]) -> dict[str, Any]:
        """Resolve the buffer in packets and check the point as ``structops run`` would."""
        bdp = options["bandwidth_bps"] * options["rtt_us"] / (8 * 1500 * 1_000_000)
        label = options["buffer"]
        if label == "auto":
            pkts = None
        elif label.endswith("bdp"):
            pkts = max(round(float(label[:-3]) * bdp), 1)
        else:
            pkts = int(label)
        cfg = self._config(options, Path("-"), Path("-") if options["swap"] else None, pkts)
        options["buffer_pkts"] = cfg.buffer
        options["buffer_bdp"] = cfg.buffer / bdp if bdp > 0 else float("nan")
        return options

    def _config(self, options: Mapping[str, Any], obj: Path, swap: Path | None, pkts: int | None) -> Any:
        from structops.run import RunConfig

        return RunConfig(
            obj=obj,
            map_name=options["map"],
            flows=options["flows"],
            duration_us=options["duration_us"],
            bandwidth_bps=options["bandwidth_bps"],
            rtt_us=options["rtt_us"],
            loss=options["loss"],
            seed=options["seed"],
            buffer_pkts=pkts,
            ecn_threshold_pkts=options["ecn_threshold_pkts"],
            swap=swap,
            swap_map=options["swap_map"],
            swap_at_us=options["swap_at_us"],
        )

    def run_point(self, options: Mapping[str, Any], files: Mapping[str, Path], trace: bool) -> PointRun:
        """Run the point's ``structops run`` job on a fresh embedded kernel; one row per flow."""
        from structops.run import run_job, write_csv

        swap = files[options["swap_sha256"]] if options["swap_sha256"] else None
        cfg = self._config(options, files[options["object_sha256"]], swap, options["buffer_pkts"])
        result = run_job(cfg)
        total_mbps = result.total_bps / 1e6
        rows = [
            {
                "cc": f.cc,
                "flow": f.flow_id,
                "start_us": f.start_us,
                "version": f.version,
                "throughput_mbps": f.throughput_bps / 1e6,
                "retransmits": f.retransmits,
                "avg_rtt_ms": f.avg_rtt_us / 1000,
                "queue_delay_ms": (f.avg_rtt_us - cfg.rtt_us) / 1000,
                "jain": result.jain,
                "utilisation": result.utilisation,
                "total_mbps": total_mbps,
                "events": result.events,
            }
            for f in result.flows
        ]
        text: str | None = None
        if trace:
            with tempfile.TemporaryDirectory(prefix="structops-sweep-") as tmp:
                path = Path(tmp) / "trace.csv"
                write_csv(result, path)
                text = path.read_text()
        return PointRun(rows, text)

    def algorithm(self, options: Mapping[str, Any]) -> str:
        """The object's label, with the swap target when the point swaps."""
        label = str(options["object"])
        if options.get("swap"):
            label += f"->{options['swap']}@{options['swap_at_us'] / 1e6:g}s"
        return label


register_kind(TcpKind())
