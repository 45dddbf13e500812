"""Per-flow summaries, Jain's fairness index and CSV export of simulation traces.

A flow carries data one way: ``direction`` ``"up"`` (client to server) or ``"down"``
(server to client, sent by the accepted socket).  The CSV files get a ``direction``
column when some flow is ``"down"`` (and stay as before when every flow is ``"up"``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from structops.sim.flow import TcpFlow

TRACE_COLUMNS = ("flow", "t_us", "cwnd", "ssthresh", "inflight", "delivered_bytes", "srtt_us", "ca_state")


@dataclass(frozen=True)
class FlowSummary:
    """What one flow achieved: goodput, retransmissions, RTT."""

    flow_id: int
    cc: str
    start_us: int
    end_us: int
    bytes_acked: int
    throughput_bps: float
    retransmits: int
    rto_count: int
    drops: int
    avg_rtt_us: float
    min_rtt_us: int
    direction: str = "up"


def summarize(flow: TcpFlow, now_us: int) -> FlowSummary:
    """Summarise ``flow`` up to ``now_us`` (or its close time)."""
    tp = flow.tp
    end = flow.end_us if flow.end_us is not None else now_us
    dur = max(end - flow.start_us, 1)
    acked = flow.una * flow.mss
    if flow.total_bytes is not None:
        acked = min(acked, flow.total_bytes)
    return FlowSummary(
        flow_id=flow.flow_id,
        cc=flow.ops.name if flow.ops is not None else "",
        start_us=flow.start_us,
        end_us=end,
        bytes_acked=acked,
        throughput_bps=acked * 8 * 1_000_000 / dur,
        retransmits=tp.total_retrans,
        rto_count=flow.rto_count,
        drops=flow.drops,
        avg_rtt_us=flow.rtt_sum / flow.rtt_cnt if flow.rtt_cnt else 0.0,
        min_rtt_us=tp.rtt_min[1] if tp.rtt_min[1] != 0xFFFFFFFF else 0,
        direction=flow.direction,
    )


def jain_fairness(values: Sequence[float]) -> float:
    """Jain's index ``(sum x)^2 / (n * sum x^2)``: 1.0 is perfectly fair, 1/n worst."""
    if not values:
        raise ValueError("jain_fairness needs at least one value")
    s = sum(values)
    sq = sum(v * v for v in values)
    if sq == 0:
        return 1.0
    return s * s / (len(values) * sq)


def write_trace_csv(flows: Iterable[TcpFlow], out: TextIO) -> int:
    """Write every flow's sampled trace as CSV (``TRACE_COLUMNS``); returns rows."""
    flows = list(flows)
    two_way = any(f.direction != "up" for f in flows)
    w = csv.writer(out, lineterminator="\n")
    w.writerow((*TRACE_COLUMNS, "direction") if two_way else TRACE_COLUMNS)
    n = 0
    for f in flows:
        tail = (f.direction,) if two_way else ()
        for row in f.trace:
            w.writerow((f.flow_id, *row, *tail))
            n += 1
    return n


def write_summary_csv(summaries: Iterable[FlowSummary], out: TextIO) -> int:
    """Write flow summaries as CSV (one row per flow); returns rows."""
    rows = [astuple(s) for s in summaries]
    names = [f.name for f in fields(FlowSummary)]
    if all(s[-1] == "up" for s in rows):
        names.pop()  # one-way runs keep their columns
        rows = [s[:-1] for s in rows]
    w = csv.writer(out, lineterminator="\n")
    w.writerow(names)
    w.writerows(rows)
    return len(rows)


def write_oplog_csv(flows: Iterable[TcpFlow], out: TextIO) -> int:
    """Write the per-op call logs (``trace_ops=True``) as CSV; returns rows."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("flow", "t_us", "sock", "op", "args"))
    n = 0
    for f in flows:
        for t, role, op, args in f.oplog or ():
            w.writerow((f.flow_id, t, role, op, " ".join(_arg_text(a) for a in args)))
            n += 1
    return n


def _arg_text(a: object) -> str:
    as_dict = getattr(a, "as_dict", None)
    if callable(as_dict):
        return repr(as_dict())
    return repr(a)


__all__ = [
    "TRACE_COLUMNS",
    "FlowSummary",
    "jain_fairness",
    "summarize",
    "write_oplog_csv",
    "write_summary_csv",
    "write_trace_csv",
]
