"""Simulator: a deterministic discrete-event run of N TCP flows over one bottleneck.

Time is an integer count of nanoseconds (``now``); TCP state uses microseconds as
the kernel does.  Events sit in a ``heapq`` ordered by ``(time, insertion
counter)``, so equal-time events run in the order they were scheduled and a run
is a pure function of the config, the seed and the calls made on the simulator:
no wall clock, no hashing of objects, one seeded ``random.Random``.

Path model: sender -> bottleneck FIFO (rate ``bandwidth_bps``, drop-tail buffer,
optional random loss and CE marking) -> ``base_rtt/2`` propagation -> receiver;
ACKs return over an uncongested ``base_rtt/2`` path.  The link computes each
packet's departure time when it is queued, so a data packet costs one event.  The
link is full duplex and symmetric: client-to-server ("up") data queues at
:attr:`Simulator.up`, server-to-client ("down") data at :attr:`Simulator.down`, a second
FIFO with the same configuration (the ACKs of each direction travel the other one's
path, uncongested).

Congestion control is chosen per socket: a flow takes ``registry.default`` when it
starts (``tcp_assign_congestion_control``) unless it names one, and keeps its ops
object for life, as a kernel socket keeps ``icsk_ca_ops``.  :meth:`Simulator.at`
runs a callback at a given time: that is where a kernel swaps a struct_ops map
(``BPF_LINK_UPDATE``) or changes the default; running flows keep going.
"""

from __future__ import annotations

import errno
import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from structops.errors import bpf_error
from structops.sim.config import SimConfig
from structops.sim.consts import U32
from structops.sim.flow import TcpFlow
from structops.sim.flowbase import FlowBase
from structops.sim.listener import Listener
from structops.sim.ops import CongestionRegistry, TcpCongestionOps
from structops.sim.sock import TcpSock
from structops.sim.trace import FlowSummary, jain_fairness, summarize, write_summary_csv, write_trace_csv

EV_ACK = 0
EV_DATA = 1
EV_RTO = 2
EV_DELACK = 3
EV_PACE = 4
EV_START = 5
EV_WRITE = 6
EV_CALL = 7
EV_SAMPLE = 8
EV_REO = 9

_heappush = heapq.heappush

CcChoice = str | TcpCongestionOps | None
DIRECTIONS = ("up", "down", "both")


class LinkQueue:
    """One direction of the bottleneck: its FIFO (departure times) and counters."""

    __slots__ = ("deps", "drops", "free_x", "marks", "max_queue", "trace", "tx", "used")

    def __init__(self) -> None:
        self.deps: deque[int] = deque()  # departure time (ns) of each queued packet
        self.free_x = 0  # when the link is free, in ns x bandwidth
        self.tx = 0
        self.drops = 0
        self.marks = 0
        self.max_queue = 0
        self.trace: list[tuple[int, int]] = []  # (t_us, queue length) samples
        self.used = False  # a flow sends this way

    def length(self, now: int) -> int:
        """Packets queued at ``now`` (departed ones leave the FIFO)."""
        deps = self.deps
        while deps and deps[0] <= now:
            deps.popleft()
        return len(deps)


class Simulator:
    """Discrete-event simulator of TCP flows sharing one bottleneck link."""

    def __init__(
        self,
        config: SimConfig | None = None,
        registry: CongestionRegistry | None = None,
        *,
        sock_factory: Callable[..., TcpSock] = TcpSock,
    ) -> None:
        """``sock_factory(mss, flow_id=, role=)`` builds every socket: a bridge passes its
        :class:`TcpSock` subclass (``NEEDS_SYNC = True``) here."""
        self.config = config if config is not None else SimConfig()
        self.registry = registry if registry is not None else CongestionRegistry()
        self.sock_factory = sock_factory
        self.now = 0
        self.flows: list[TcpFlow] = []
        self.events = 0
        self.rng = random.Random(self.config.seed)
        #: Jitter has its own stream so that turning it off leaves ISNs and losses alone.
        self.jitter_rng = random.Random(f"jitter:{self.config.seed}")
        self._jitter_random = self.jitter_rng.random
        # a float (exact: an integer below 2**53), so a draw's product needs no conversion
        self._proc_j = float(self.config.proc_jitter_us * 1000)
        self._heap: list[tuple[Any, ...]] = []
        self._seq = 0
        self._flow_cc: dict[int, CcChoice] = {}
        link = self.config.link
        self._bw = link.bandwidth_bps
        self._ser_x = self.config.wire_bytes * 8 * 1_000_000_000
        self.up = LinkQueue()
        self.down = LinkQueue()
        self._buffer = self.config.buffer_limit
        self._ecn_k = link.ecn_threshold_pkts
        self._loss_p = link.loss_prob
        if self.config.sample_interval_us:
            self._push(0, EV_SAMPLE, None)

    # -- the one clock -------------------------------------------------------------
    def clock_ns(self) -> int:
        """The simulated clock in ns: ``ktime_get_ns()`` for everything the simulator
        drives (TCP timestamps, jiffies, and the BPF VM's ktime/jiffies helpers through
        the bridge).  It never reads the host clock."""
        return self.now

    def jiffies(self) -> int:
        """``jiffies`` at the simulated time (``SimConfig.hz``)."""
        return self.now * self.config.hz // 1_000_000_000

    # -- configuration ------------------------------------------------------------
    def set_default_cc(self, name: str) -> TcpCongestionOps:
        """Make ``name`` the default for flows starting from now (sysctl tcp_congestion_control)."""
        return self.registry.set_default(name)

    def register_cc(self, ops: TcpCongestionOps) -> None:
        """Register ``ops`` in the simulator's registry (``tcp_register_congestion_control``)."""
        self.registry.register(ops)

    def add_flow(
        self,
        *,
        base_rtt_us: int = 20_000,
        start_us: int = 0,
        size_bytes: int | None = None,
        cc: CcChoice = None,
        ecn: bool | None = None,
        writes: Iterable[tuple[int, int]] = (),
        listener: Listener | None = None,
        direction: str = "up",
    ) -> TcpFlow:
        """Add a flow that connects at ``start_us``.

        ``size_bytes=None`` is a bulk sender with unlimited data; otherwise the flow
        closes (calling ``release``) once ``size_bytes`` plus any ``writes`` (pairs of
        ``(time_us, nbytes)`` the application writes later) are acknowledged.
        ``cc`` is a registered name, an ops object, or None for the default at
        connect time.  With ``listener`` the receiving socket is accepted from it: it
        inherits the listener's CC at connect (accept) time, holds its reference and
        runs its ``init``/``release`` (see :mod:`structops.sim.listener`).

        ``direction`` says who sends: ``"up"`` (client to server, the client socket's CC
        ``cc``), ``"down"`` (server to client: the accepted socket sends with the CC it
        inherited from ``listener``, which it needs, over the link's reverse direction)
        or ``"both"`` (two data flows on the same two sockets).  The returned flow carries
        the requested direction (for ``"both"`` the up one, its :attr:`~TcpFlow.peer` the
        down one, which gets the next flow id); ``size_bytes`` applies to each direction,
        ``writes`` to the returned flow.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if direction != "up" and listener is None:
            raise ValueError(
                f"direction {direction!r} needs a listener: server-to-client data is sent by the accepted "
                "socket with the congestion control it inherits (use Simulator.listen())"
            )
        if base_rtt_us < 1:
            raise ValueError(f"base_rtt_us must be >= 1, got {base_rtt_us}")
        if start_us * 1000 < self.now:
            raise ValueError(f"start_us {start_us} is in the past (now {self.now // 1000} us)")
        if size_bytes is not None and size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0, got {size_bytes}")
        if isinstance(cc, str):
            self._resolve(cc, "add flow")  # ENOENT now, not at connect time
        ecn_on = self.config.ecn if ecn is None else ecn
        flow = self._new_flow(
            base_rtt_us, start_us, size_bytes, ecn_on, listener, "down" if direction == "down" else "up"
        )
        fid = flow.flow_id
        if direction == "both":
            flow.peer = self._new_flow(base_rtt_us, start_us, size_bytes, ecn_on, listener, "peer")
            flow.peer.peer = flow
        self._flow_cc[fid] = cc
        start_ns = start_us * 1000
        if self.config.start_jitter_us:
            start_ns += self.jitter_rng.randrange(self.config.start_jitter_us * 1000)
        self._push(start_ns, EV_START, flow)
        for t_us, nbytes in writes:
            if t_us < start_us:
                raise ValueError(f"write at {t_us} us is before the flow starts ({start_us} us)")
            self._push(t_us * 1000, EV_WRITE, flow, nbytes)
            flow.pending_writes += 1
        return flow

    def _new_flow(
        self, base_rtt_us: int, start_us: int, size_bytes: int | None, ecn: bool, listener: Listener | None, way: str
    ) -> TcpFlow:
        """``way``: ``"up"``, ``"down"``, or ``"peer"`` (the down half of a ``"both"`` flow,
        whose sockets are its up half's, so it makes none)."""
        isn = self.rng.getrandbits(32) if self.config.random_isn else 0
        flow = TcpFlow(
            self,
            len(self.flows),
            base_rtt_us=base_rtt_us,
            start_us=start_us,
            size_bytes=size_bytes,
            isn=isn,
            ecn=ecn,
            sock=TcpSock(self.config.mss, flow_id=len(self.flows), role="peer") if way == "peer" else None,
        )
        flow.listener = listener
        if way != "up":
            flow.direction = "down"
            flow.link = self.down
        flow.link.used = True
        self.flows.append(flow)
        return flow

    def listen(self, cc: CcChoice = None) -> Listener:
        """A listening socket with ``cc`` (a name, ops, or None for the default now)."""
        ops = self._resolve(cc, "listen")
        sk = self.sock_factory(self.config.mss, flow_id=-1, role="listen")
        return Listener(sk, ops)

    def at(self, t_us: int, fn: Callable[[Simulator], None]) -> None:
        """Run ``fn(self)`` at simulated time ``t_us`` (e.g. a struct_ops link update)."""
        if t_us * 1000 < self.now:
            raise ValueError(f"time {t_us} us is in the past (now {self.now // 1000} us)")
        self._push(t_us * 1000, EV_CALL, fn)

    def set_flow_cc(self, flow: TcpFlow, cc: str | TcpCongestionOps) -> None:
        """``setsockopt(TCP_CONGESTION)`` on a live flow: release the old CC, init the new."""
        ops = self._resolve(cc, "set flow cc")
        if flow.ops is None:
            self._flow_cc[flow.flow_id] = ops
            return
        flow.tp.tcp_mstamp_refresh(self.now)
        flow.set_congestion_control(ops)

    def drop_segment(self, flow: TcpFlow, idx: int, times: int = 1) -> None:
        """Drop the next ``times`` transmissions of ``flow``'s segment ``idx`` (0-based)
        at the bottleneck: deterministic loss for tests and experiments."""
        if idx < 0 or times < 1:
            raise ValueError(f"drop_segment needs idx >= 0 and times >= 1, got {idx}, {times}")
        flow.drop_plan[idx] = flow.drop_plan.get(idx, 0) + times

    # -- running ----------------------------------------------------------------------
    def run(self, until_us: int) -> None:
        """Process every event up to and including ``until_us``; ``now`` ends there."""
        until = until_us * 1000
        if until < self.now:
            raise ValueError(f"run until {until_us} us: already at {self.now // 1000} us")
        heap = self._heap
        pop = heapq.heappop
        n = 0
        while heap and heap[0][0] <= until:
            self.now, _, kind, f, a, b, c, d, e = pop(heap)
            n += 1
            if kind <= EV_DATA:  # EV_ACK or EV_DATA, then the flow's lazy timer
                if kind == EV_ACK:
                    f.acks_pending -= 1
                    f.on_ack(a, b, c, d, e)
                else:
                    f.data_pending -= 1
                    rcv = f.rcv
                    if rcv is not None:
                        rcv.on_data(a, b, c, d, e)
                        due = rcv.delack_due_ns
                        if due >= 0 and not (f.data_pending and f.data_due_ns < due):
                            # the delayed-ACK timer's event, no longer preceded by data
                            rcv.delack_due_ns = -1
                            self.queue_delack(f, rcv.delack_gen, due, rcv.delack_seq)
                if f.rto_event_ns < 0:  # the retransmit/probe timer, lazily queued (Output._arm_timer)
                    dl = f.rto_deadline_ns
                    if not (
                        dl < 0
                        or (f.acks_pending and f.ack_due_ns < dl)
                        or (f.data_pending and f.data_due_ns < dl)
                        or f.closed
                    ):
                        f.rto_event_ns = dl
                        self._seq += 1
                        heapq.heappush(heap, (dl, self._seq, EV_RTO, f, 0, 0, 0, 0, 0))
            elif kind == EV_RTO:
                f.on_rto_event()
            elif kind == EV_DELACK:
                rcv = f.rcv
                if rcv is not None:
                    rcv.on_delack(a)
            elif kind == EV_PACE:
                f.on_pace()
            elif kind == EV_START:
                self._start(f)
            elif kind == EV_WRITE:
                f.app_write(a)
            elif kind == EV_CALL:
                f(self)
            elif kind == EV_REO:
                f.on_reo_timer()
            else:
                self._sample()
        self.events += n
        self.now = until

    def close(self) -> None:
        """Close every open flow (``release`` runs where a CC was initialised)."""
        for f in self.flows:
            if f.ops is not None:
                f.close()

    def _resolve(self, cc: CcChoice, op: str) -> TcpCongestionOps:
        """The ops ``cc`` names now: the default for None, a registered name (ENOENT if
        none), or the ops object itself."""
        if cc is None:
            return self.registry.default
        if not isinstance(cc, str):
            return cc
        found = self.registry.find(cc)
        if found is None:
            raise bpf_error(errno.ENOENT, f"no congestion control named {cc!r}", op=op)
        return found

    def _start(self, flow: TcpFlow) -> None:
        flow.open(self._resolve(self._flow_cc.get(flow.flow_id), "connect"))

    def _sample(self) -> None:
        t_us = self.now // 1000
        for f in self.flows:
            if f.ops is not None and not f.closed:
                f.sample(t_us)
        self.up.trace.append((t_us, self.up.length(self.now)))  # sampled even before any flow
        if self.down.used:
            self.down.trace.append((t_us, self.down.length(self.now)))
        self._push(self.now + self.config.sample_interval_us * 1000, EV_SAMPLE, None)

    # -- scheduling helpers used by flows -------------------------------------------------
    def _push(self, t: int, kind: int, obj: Any, a: Any = 0, b: Any = 0, c: Any = 0, d: Any = 0, e: Any = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, obj, a, b, c, d, e))

    def schedule_rto(self, flow: FlowBase, t_ns: int) -> None:
        """Queue an RTO check for ``flow`` at ``t_ns``."""
        seq = self._seq = self._seq + 1
        _heappush(self._heap, (t_ns, seq, EV_RTO, flow, 0, 0, 0, 0, 0))

    def schedule_reo(self, flow: FlowBase, t_ns: int) -> None:
        """Queue RACK's reordering timer for ``flow`` at ``t_ns``."""
        self._push(t_ns, EV_REO, flow)

    def schedule_pace(self, flow: FlowBase, t_ns: int) -> None:
        """Queue a pacing wake-up for ``flow`` at ``t_ns``."""
        self._push(t_ns, EV_PACE, flow)

    def queue_delack(self, flow: TcpFlow, gen: int, t_ns: int, seq: int) -> None:
        """Queue the receiver's delayed-ACK timer (generation ``gen``) to expire at
        ``t_ns``, in the place in the event order that ``seq`` (taken when it was armed)
        gives it."""
        _heappush(self._heap, (t_ns, seq, EV_DELACK, flow, gen, 0, 0, 0, 0))

    def send_ack(self, flow: TcpFlow, ack_i: int, sack_i: int, dsack_i: int, ece: int, tsecr: int) -> None:
        """Deliver an ACK to ``flow``'s sender after the reverse-path delay (+ jitter).

        Processing jitter (here and in :meth:`transmit`, one draw per arrival from
        ``jitter_rng``): the arrival moves up to ``proc_jitter_us`` later, but never
        before the previous arrival of the same kind on that flow (packets of a path
        never reorder)."""
        t = self.now + flow.rev_delay_ns
        pj = self._proc_j
        if pj:
            t += int(self._jitter_random() * pj)
            last = flow.last_ack_ns
            if t < last:
                t = last
            flow.last_ack_ns = t
        flow.acks_pending += 1
        flow.ack_due_ns = t
        seq = self._seq = self._seq + 1
        _heappush(self._heap, (t, seq, EV_ACK, flow, ack_i, sack_i, dsack_i, ece, tsecr))

    def transmit(self, flow: FlowBase, idx: int, tsval: int, cwr: int, ect: int) -> None:
        """Offer data segment ``idx`` of ``flow`` to its direction's bottleneck queue."""
        now = self.now
        link = flow.link
        deps = link.deps
        while deps and deps[0] <= now:
            deps.popleft()
        qlen = len(deps)
        if flow.drop_plan and flow.drop_plan.get(idx):
            flow.drop_plan[idx] -= 1
            link.drops += 1
            flow.drops += 1
            return
        if qlen >= self._buffer or (self._loss_p and self.rng.random() < self._loss_p):
            link.drops += 1
            flow.drops += 1
            return
        ce = 0
        if ect and self._ecn_k is not None and qlen >= self._ecn_k:
            ce = 1
            link.marks += 1
        bw = self._bw
        start = now * bw
        if link.free_x > start:
            start = link.free_x
        free = link.free_x = start + self._ser_x
        dep = -(-free // bw)
        deps.append(dep)
        if qlen + 1 > link.max_queue:
            link.max_queue = qlen + 1
        link.tx += 1
        t = dep + flow.fwd_delay_ns
        pj = self._proc_j
        if pj:  # processing jitter, as in send_ack
            t += int(self._jitter_random() * pj)
            last = flow.last_data_ns
            if t < last:
                t = last
            flow.last_data_ns = t
        flow.data_pending += 1
        flow.data_due_ns = t
        seq = self._seq = self._seq + 1
        _heappush(self._heap, (t, seq, EV_DATA, flow, idx, tsval, ce, cwr, ect))

    # -- results ----------------------------------------------------------------------------
    @property
    def link_tx(self) -> int:
        """Data packets the link carried (both directions)."""
        return self.up.tx + self.down.tx

    @property
    def link_drops(self) -> int:
        """Data packets dropped at the bottleneck (both directions)."""
        return self.up.drops + self.down.drops

    @property
    def link_marks(self) -> int:
        """Data packets CE-marked at the bottleneck (both directions)."""
        return self.up.marks + self.down.marks

    @property
    def max_queue(self) -> int:
        """The longest queue seen in either direction (packets)."""
        return max(self.up.max_queue, self.down.max_queue)

    @property
    def queue_trace(self) -> list[tuple[int, int]]:
        """``(t_us, packets)`` samples of the up (client-to-server) queue."""
        return self.up.trace

    def summary(self) -> list[FlowSummary]:
        """One :class:`FlowSummary` per started flow."""
        t_us = self.now // 1000
        return [summarize(f, t_us) for f in self.flows if f.ops is not None]

    def jain_fairness(self, flows: Sequence[TcpFlow] | None = None) -> float:
        """Jain's index over the throughputs of ``flows`` (default: all started)."""
        t_us = self.now // 1000
        chosen = flows if flows is not None else [f for f in self.flows if f.ops is not None]
        return jain_fairness([summarize(f, t_us).throughput_bps for f in chosen])

    def utilisation(self, direction: str | None = None) -> float:
        """Fraction of link capacity used by acknowledged data (wire bytes) so far: of one
        ``direction`` (``"up"``/``"down"``), or by default of every direction flows use."""
        if self.now <= 0:
            raise ValueError("utilisation needs a positive time span")
        if direction is None:
            chosen = self.flows
            lanes = max(int(self.up.used) + int(self.down.used), 1)
        else:
            chosen = [f for f in self.flows if f.direction == direction]
            lanes = 1
        acked = sum(f.una for f in chosen) * self.config.wire_bytes * 8
        return acked * 1_000_000_000 / (self._bw * self.now * lanes)

    def write_trace_csv(self, out: TextIO) -> int:
        """Write all flow traces as CSV (see :data:`~structops.sim.trace.TRACE_COLUMNS`)."""
        return write_trace_csv(self.flows, out)

    def write_summary_csv(self, out: TextIO) -> int:
        """Write :meth:`summary` as CSV."""
        return write_summary_csv(self.summary(), out)

    def isn_seq(self, flow: TcpFlow, idx: int) -> int:
        """The u32 byte sequence number of segment ``idx`` of ``flow``."""
        return (flow.isn + idx * flow.mss) & U32


__all__ = ["Simulator"]
