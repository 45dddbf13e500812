"""FlowBase: the state of one simulated TCP connection and the helpers every part uses.

Holds the sender's :class:`~structops.sim.sock.TcpSock`, the retransmit queue (one
:class:`Seg` per segment, indexed by segment number) and the per-flow counters, plus
the choke point through which every congestion-control op is called
(:meth:`FlowBase.call_op`: bridge sync around the call, spec T8 truncation after it).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from structops.sim.consts import (
    TCP_TIMEOUT_INIT_US,
    U32,
)
from structops.sim.ops import TcpCongestionOps
from structops.sim.receiver import TcpReceiver
from structops.sim.sock import TcpSock

if TYPE_CHECKING:
    from structops.sim.engine import LinkQueue, Simulator
    from structops.sim.flow import TcpFlow
    from structops.sim.listener import Listener

# TCP_SKB_CB(skb)->sacked bits (TCPCB_*)
TCPCB_SACKED_ACKED = 0x01
TCPCB_SACKED_RETRANS = 0x02
TCPCB_LOST = 0x04
TCPCB_EVER_RETRANS = 0x80

REXMIT_NONE = 0
REXMIT_LOST = 1


class Seg:
    """Retransmit-queue entry: one segment's scoreboard bits and rate-sample stamps."""

    __slots__ = ("app_limited", "dlv", "dlv_ce", "dlv_mstamp", "first_tx", "retx_nxt", "sacked", "tx_ns", "tx_us")

    # No __init__ (one is made per data segment): every slot but ``retx_nxt`` is set when
    # the segment is first sent, right after it is made (Output._transmit);
    # ``retx_nxt`` when it is resent (Output._retransmit), and it is read only then.
    sacked: int
    retx_nxt: int
    tx_us: int
    tx_ns: int  # the last send in ns: RACK's send order (skb_mstamp_ns)
    first_tx: int
    dlv: int
    dlv_mstamp: int
    dlv_ce: int
    app_limited: bool


class FlowBase:
    """State and shared helpers of :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = (
        "ack_due_ns",
        "acks_pending",
        "base_rtt_us",
        "closed",
        "cwnd_usage_i",
        "data_due_ns",
        "data_pending",
        "direction",
        "drop_plan",
        "drops",
        "ecn_wanted",
        "end",
        "end_us",
        "flow_id",
        "fwd_delay_ns",
        "high_i",
        "highest_sack_i",
        "hz",
        "isn",
        "last_ack_ns",
        "last_data_ns",
        "link",
        "listener",
        "mss",
        "next_tx_ns",
        "nxt",
        "oplog",
        "ops",
        "pace_event_ns",
        "peer",
        "pending_writes",
        "probe_armed",
        "q",
        "qbase",
        "rack",
        "rack_advanced",
        "rack_end_i",
        "rack_mstamp",
        "rack_rtt_us",
        "rcv",
        "reo_event_ns",
        "retx_fifo",
        "rev_delay_ns",
        "rto_count",
        "rto_deadline_ns",
        "rto_event_ns",
        "rto_us",
        "rtt_cnt",
        "rtt_seq_i",
        "rtt_sum",
        "rtx_i",
        "sacked_below",
        "scan_i",
        "sim",
        "size_bytes",
        "start_us",
        "tlp",
        "tlp_high_i",
        "tlp_retrans",
        "total_bytes",
        "tp",
        "trace",
        "una",
        "undo_i",
    )

    def __init__(
        self,
        sim: Simulator,
        flow_id: int,
        *,
        base_rtt_us: int,
        start_us: int,
        size_bytes: int | None,
        isn: int,
        ecn: bool,
        sock: TcpSock | None = None,
    ) -> None:
        """``sock``: a stand-in sender socket (no factory call) for a flow whose sockets
        another flow makes (the down half of a two-way connection)."""
        cfg = sim.config
        self.sim = sim
        self.flow_id = flow_id
        self.mss = cfg.mss
        self.isn = isn & U32
        self.base_rtt_us = base_rtt_us
        self.fwd_delay_ns = base_rtt_us * 500  # half the RTT, in ns
        self.rev_delay_ns = base_rtt_us * 1000 - self.fwd_delay_ns
        self.start_us = start_us
        self.end_us: int | None = None
        self.closed = False
        self.ecn_wanted = ecn
        self.tp: TcpSock = self.new_sock("snd") if sock is None else sock
        self.rcv: TcpReceiver | None = None
        self.listener: Listener | None = None  # accepted from it: the server socket inherits its CC
        #: "up": the client sends (``tp`` is the client socket); "down": the server sends
        #: (``tp`` is the accepted socket, the receiver is the client) on the reverse link.
        self.direction = "up"
        self.link: LinkQueue = sim.up
        #: the other direction of the same connection (same two sockets), if it carries data
        self.peer: TcpFlow | None = None
        self.ops: TcpCongestionOps | None = None
        self.oplog: list[tuple[int, str, str, tuple[Any, ...]]] | None = [] if cfg.trace_ops else None
        self.trace: list[tuple[int, int, int, int, int, int, int]] = []
        # sequence space in segments
        self.una = 0
        self.nxt = 0
        self.end = 0 if size_bytes is not None else 1 << 62
        self.size_bytes = size_bytes
        if size_bytes is not None:
            self.end = -(-size_bytes // cfg.mss)
        self.high_i = 0
        self.undo_i = -1
        self.rtt_seq_i = 0
        self.cwnd_usage_i = 0
        self.highest_sack_i = -1
        self.q: list[Seg] = []
        self.qbase = 0
        self.scan_i = 0
        self.sacked_below = 0
        self.rtx_i = 0
        self.retx_fifo: deque[int] = deque()
        self.rto_us = TCP_TIMEOUT_INIT_US
        self.rto_deadline_ns = -1
        self.rto_event_ns = -1
        self.next_tx_ns = 0
        self.rack = cfg.rack
        self.rack_mstamp = 0  # RACK: send time (ns) and end of the most recently sent delivered segment
        self.rack_end_i = 0
        self.rack_rtt_us = 0
        self.rack_advanced = False
        self.reo_event_ns = -1
        self.tlp = cfg.tlp
        self.probe_armed = False  # the retransmit timer is the loss-probe timer
        self.hz = cfg.hz
        self.tlp_high_i = 0
        self.tlp_retrans = False
        self.last_ack_ns = 0  # arrival of the latest ACK / data packet (jitter keeps order)
        self.acks_pending = 0  # ACKs on their way back to the sender
        self.ack_due_ns = 0  # arrival of the latest of them (ACK arrivals never reorder)
        self.data_pending = 0  # data segments past the queue, on their way to the receiver
        self.data_due_ns = 0  # arrival of the latest of them (never reorder either)
        self.last_data_ns = 0
        self.pace_event_ns = -1
        # stats
        self.rtt_sum = 0
        self.rtt_cnt = 0
        self.rto_count = 0
        self.drops = 0
        self.drop_plan: dict[int, int] = {}
        self.pending_writes = 0
        self.total_bytes = size_bytes

    def new_sock(self, role: str) -> TcpSock:
        """A socket from the simulator's factory, on the simulator's clock and ``HZ``."""
        sim = self.sim
        sk = sim.sock_factory(sim.config.mss, flow_id=self.flow_id, role=role)
        sk.sim_clock = sim.clock_ns
        sk.sim_hz = sim.config.hz
        return sk

    def _jiffies(self) -> int:
        return (self.sim.now * self.sim.config.hz // 1_000_000_000) & U32

    def _seq(self, i: int) -> int:
        return (self.isn + i * self.mss) & U32

    def _seg(self, i: int) -> Seg:
        return self.q[i - self.qbase]

    def call_op(self, sk: TcpSock, name: str, *args: Any) -> Any:
        """Call ``sk``'s CC op ``name`` if present, with bridge sync and T8 truncation."""
        fn = getattr(sk.icsk_ca_ops, name)
        if fn is None:
            return None
        if self.oplog is not None:
            self.oplog.append((self.sim.now // 1000, sk.sim_role, name, args))
        if sk.NEEDS_SYNC:
            sk.sync_to_kernel()
            ret = fn(sk, *args)
            sk.sync_from_kernel()
        else:
            ret = fn(sk, *args)
        sk.truncate_writable()
        return ret

    def _ca_event(self, ev: int) -> None:
        if self.tp.icsk_ca_ops.cwnd_event is not None:
            self.call_op(self.tp, "cwnd_event", ev)

    def _set_ca_state(self, state: int) -> None:
        """``tcp_set_ca_state()``: the op sees the old state still in the socket."""
        tp = self.tp
        if tp.icsk_ca_ops.set_state is not None:
            self.call_op(tp, "set_state", state)
        tp.icsk_ca_state = state

    def _ssthresh(self) -> int:
        return int(self.call_op(self.tp, "ssthresh")) & U32

    def _mark_lost(self, i: int, seg: Seg) -> None:
        """``tcp_mark_skb_lost()``."""
        tp = self.tp
        s = seg.sacked
        if s & TCPCB_SACKED_ACKED:
            return
        if s & TCPCB_LOST:
            if s & TCPCB_SACKED_RETRANS:
                seg.sacked = s & ~TCPCB_SACKED_RETRANS
                tp.retrans_out -= 1
                tp.lost += 1
        else:
            tp.lost_out += 1
            seg.sacked = s | TCPCB_LOST
            tp.lost += 1
        if i < self.rtx_i:
            self.rtx_i = i

    def _any_retrans_done(self) -> bool:
        if self.tp.retrans_out:
            return True
        return self.una < self.nxt and bool(self._seg(self.una).sacked & TCPCB_EVER_RETRANS)

    def sample(self, t_us: int) -> None:
        """Append one trace row (t, cwnd, ssthresh, inflight, delivered bytes, srtt, state)."""
        tp = self.tp
        self.trace.append(
            (
                t_us,
                tp.snd_cwnd,
                tp.snd_ssthresh,
                tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out,
                tp.delivered * self.mss,
                tp.srtt_us >> 3,
                tp.icsk_ca_state,
            )
        )

    def inflight(self) -> int:
        """``tcp_packets_in_flight()`` of the sender."""
        tp = self.tp
        return tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out


__all__ = [
    "REXMIT_LOST",
    "REXMIT_NONE",
    "TCPCB_EVER_RETRANS",
    "TCPCB_LOST",
    "TCPCB_SACKED_ACKED",
    "TCPCB_SACKED_RETRANS",
    "FlowBase",
    "Seg",
]
