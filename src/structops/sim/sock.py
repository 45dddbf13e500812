"""TcpSock: the socket state a congestion control sees, with kernel field names.

The object flattens ``struct sock`` -> ``struct inet_connection_sock`` ->
``struct tcp_sock`` into one namespace of plain ``int`` fields (plus ``icsk_ca_priv``,
a 104-byte ``bytearray`` standing for ``u64 icsk_ca_priv[13]``).  Every field a
``tcp_congestion_ops`` callback can read or write lives here, so a bridge can copy
the object into emulated kernel memory laid out by BTF:

* ``sync_to_kernel()`` is called right before each op call and
  ``sync_from_kernel()`` right after it, but only when the class attribute
  ``NEEDS_SYNC`` is true (it is false here, so native Python CCs pay nothing).
  A bridge subclasses :class:`TcpSock`, sets ``NEEDS_SYNC = True`` and copies the
  fields into / out of its ``struct tcp_sock`` bytes.
* After every op the simulator truncates the fields a BPF CC may write
  (``bpf_tcp_ca_btf_struct_access``, spec T8) to their C widths, so Python CCs get
  the same u32/u8 wrap-around a BPF program would.

Units follow the kernel: ``srtt_us`` is 8x the smoothed RTT in microseconds,
``mdev_us`` 4x the mean deviation, ``tcp_mstamp`` is microseconds, sequence numbers
are u32 byte sequence numbers, ``snd_cwnd_stamp``/``icsk_rto``/``lsndtime`` are in
jiffies of the simulator's ``HZ`` (250 by default, as this machine's and Debian's
``CONFIG_HZ``).  ``tcp_clock_cache`` (ns) and ``tcp_mstamp`` (us) are refreshed together
from the simulated clock (:meth:`TcpSock.tcp_mstamp_refresh`), never from the host.
``rtt_min`` holds ``struct minmax`` as six ints ``[t0, v0, t1, v1, t2, v2]``;
``icsk_ack_pending`` is ``icsk_ack.pending`` (a CC sets ``ICSK_ACK_NOW`` on a receiver
to force an immediate ACK); ``rx_opt_rcv_tsecr``/``rx_opt_saw_tstamp`` are
``rx_opt.rcv_tsecr``/``rx_opt.saw_tstamp``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from structops.sim.consts import (
    SK_PACING_NONE,
    TCP_CA_PRIV_SIZE,
    TCP_DEFAULT_REORDERING,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    U32,
    U64,
    TCP_CA_Open,
)

# Fields a BPF tcp_congestion_ops may write (spec T8) and their C widths.
WRITABLE_FIELDS: dict[str, int] = {
    "snd_cwnd": U32,
    "snd_cwnd_cnt": U32,
    "snd_cwnd_stamp": U32,
    "snd_ssthresh": U32,
    "ecn_flags": 0xFF,
    "app_limited": U32,
    "sk_pacing_rate": U64,
    "sk_pacing_status": U32,
    "icsk_ack_pending": 0xFF,
}


class TcpSock:
    """A TCP socket as its congestion control sees it (``struct tcp_sock`` fields).

    ``icsk_ca_ops`` is the :class:`~structops.sim.ops.TcpCongestionOps` the socket
    holds (like the kernel's ``const struct tcp_congestion_ops *``).
    """

    NEEDS_SYNC: ClassVar[bool] = False

    __slots__ = (  # noqa: RUF023  (grouped by kernel struct)
        # struct sock
        "sk_state",
        "sk_pacing_rate",
        "sk_max_pacing_rate",
        "sk_pacing_status",
        "sk_pacing_shift",
        # struct inet_connection_sock
        "icsk_ca_ops",
        "icsk_ca_state",
        "icsk_ca_initialized",
        "icsk_ca_setsockopt",
        "icsk_ca_priv",
        "icsk_retransmits",
        "icsk_backoff",
        "icsk_rto",
        "icsk_ack_pending",
        # struct tcp_sock
        "mss_cache",
        "snd_cwnd",
        "snd_cwnd_cnt",
        "snd_cwnd_clamp",
        "snd_cwnd_used",
        "snd_cwnd_stamp",
        "snd_ssthresh",
        "prior_cwnd",
        "prior_ssthresh",
        "snd_una",
        "snd_nxt",
        "write_seq",
        "rcv_nxt",
        "high_seq",
        "undo_marker",
        "undo_retrans",
        "retrans_stamp",
        "srtt_us",
        "mdev_us",
        "mdev_max_us",
        "rttvar_us",
        "rtt_seq",
        "rtt_min",
        "packets_out",
        "retrans_out",
        "sacked_out",
        "lost_out",
        "prr_delivered",
        "prr_out",
        "delivered",
        "delivered_ce",
        "lost",
        "app_limited",
        "ecn_flags",
        "tcp_clock_cache",
        "tcp_mstamp",
        "is_cwnd_limited",
        "max_packets_out",
        "cwnd_usage_seq",
        "first_tx_mstamp",
        "delivered_mstamp",
        "rate_delivered",
        "rate_interval_us",
        "rate_app_limited",
        "reordering",
        "lsndtime",
        "total_retrans",
        "bytes_retrans",
        "bytes_acked",
        "bytes_sent",
        "segs_out",
        "data_segs_out",
        "dsack_dups",
        "is_sack_reneg",
        "tlp_high_seq",
        "frto",
        "total_rto",
        "total_rto_recoveries",
        "tcp_wstamp_ns",
        "rx_opt_rcv_tsecr",
        "rx_opt_saw_tstamp",
        # simulator bookkeeping (not kernel state)
        "sim_flow_id",
        "sim_role",
        "sim_hz",
        "sim_clock",
        "_send_ack_hook",
    )

    def __init__(self, mss: int = 1448, *, flow_id: int = 0, role: str = "snd") -> None:
        self.sk_state = 1  # TCP_ESTABLISHED
        self.sk_pacing_rate = U64
        self.sk_max_pacing_rate = U64
        self.sk_pacing_status = SK_PACING_NONE
        self.sk_pacing_shift = 10
        self.icsk_ca_ops: Any = None
        self.icsk_ca_state = TCP_CA_Open
        self.icsk_ca_initialized = 0
        self.icsk_ca_setsockopt = 0
        self.icsk_ca_priv = bytearray(TCP_CA_PRIV_SIZE)
        self.icsk_retransmits = 0
        self.icsk_backoff = 0
        self.icsk_rto = 0
        self.icsk_ack_pending = 0
        self.mss_cache = mss
        self.snd_cwnd = TCP_INIT_CWND
        self.snd_cwnd_cnt = 0
        self.snd_cwnd_clamp = U32
        self.snd_cwnd_used = 0
        self.snd_cwnd_stamp = 0
        self.snd_ssthresh = TCP_INFINITE_SSTHRESH
        self.prior_cwnd = 0
        self.prior_ssthresh = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.write_seq = 0
        self.rcv_nxt = 0
        self.high_seq = 0
        self.undo_marker = 0
        self.undo_retrans = 0
        self.retrans_stamp = 0
        self.srtt_us = 0
        self.mdev_us = 0
        self.mdev_max_us = 0
        self.rttvar_us = 0
        self.rtt_seq = 0
        self.rtt_min = [0, U32, 0, U32, 0, U32]
        self.packets_out = 0
        self.retrans_out = 0
        self.sacked_out = 0
        self.lost_out = 0
        self.prr_delivered = 0
        self.prr_out = 0
        self.delivered = 0
        self.delivered_ce = 0
        self.lost = 0
        self.app_limited = 0
        self.ecn_flags = 0
        self.tcp_clock_cache = 0
        self.tcp_mstamp = 0
        self.is_cwnd_limited = 0
        self.max_packets_out = 0
        self.cwnd_usage_seq = 0
        self.first_tx_mstamp = 0
        self.delivered_mstamp = 0
        self.rate_delivered = 0
        self.rate_interval_us = 0
        self.rate_app_limited = 0
        self.reordering = TCP_DEFAULT_REORDERING
        self.lsndtime = 0
        self.total_retrans = 0
        self.bytes_retrans = 0
        self.bytes_acked = 0
        self.bytes_sent = 0
        self.segs_out = 0
        self.data_segs_out = 0
        self.dsack_dups = 0
        self.is_sack_reneg = 0
        self.tlp_high_seq = 0
        self.frto = 0
        self.total_rto = 0
        self.total_rto_recoveries = 0
        self.tcp_wstamp_ns = 0
        self.rx_opt_rcv_tsecr = 0
        self.rx_opt_saw_tstamp = 0
        self.sim_flow_id = flow_id
        self.sim_role = role
        self.sim_hz = 250
        self.sim_clock: Any = None  # the simulator's clock (ns); None: tcp_clock_cache
        self._send_ack_hook: Any = None

    # -- bridge hooks -------------------------------------------------------------
    def sync_to_kernel(self) -> None:
        """Copy this object into the bridged ``struct tcp_sock`` (no-op here)."""

    def sync_from_kernel(self) -> None:
        """Copy the bridged ``struct tcp_sock`` back into this object (no-op here)."""

    def tcp_mstamp_refresh(self, now_ns: int) -> None:
        """``tcp_mstamp_refresh()``: cache the (simulated) clock in ns and us."""
        self.tcp_clock_cache = now_ns
        self.tcp_mstamp = now_ns // 1000

    # -- helpers CCs may call (helper bpf_tcp_send_ack, spec T10) -----------------
    def tcp_send_ack(self) -> None:
        """Send an ACK now (``bpf_tcp_send_ack``); only meaningful on a receiver."""
        if self._send_ack_hook is not None:
            self._send_ack_hook()

    def truncate_writable(self) -> None:
        """Wrap the BPF-writable fields (spec T8) to their C widths."""
        # Usually every field is in range already: one check (a negative value makes its
        # OR negative, so it fails too) instead of nine read-mask-writes.
        u32s = self.snd_cwnd | self.snd_cwnd_cnt | self.snd_cwnd_stamp | self.snd_ssthresh
        u32s |= self.app_limited | self.sk_pacing_status
        if u32s >> 32 or (self.ecn_flags | self.icsk_ack_pending) >> 8 or self.sk_pacing_rate >> 64:
            self.snd_cwnd &= U32
            self.snd_cwnd_cnt &= U32
            self.snd_cwnd_stamp &= U32
            self.snd_ssthresh &= U32
            self.ecn_flags &= 0xFF
            self.app_limited &= U32
            self.sk_pacing_rate &= U64
            self.sk_pacing_status &= U32
            self.icsk_ack_pending &= 0xFF

    def fields(self) -> dict[str, object]:
        """All kernel-visible fields as a dict (for bridges, debugging and tests)."""
        return {name: getattr(self, name) for name in self.__slots__ if not name.startswith(("sim_", "_"))}


class AckSample:
    """``struct ack_sample`` passed to ``pkts_acked``.

    ::

        struct ack_sample { u32 pkts_acked; s32 rtt_us; u32 in_flight; };
    """

    __slots__ = ("in_flight", "pkts_acked", "rtt_us")
    FIELDS = ("pkts_acked", "rtt_us", "in_flight")

    def __init__(self, pkts_acked: int, rtt_us: int, in_flight: int) -> None:
        self.pkts_acked = pkts_acked
        self.rtt_us = rtt_us
        self.in_flight = in_flight

    def __repr__(self) -> str:
        return f"AckSample(pkts_acked={self.pkts_acked}, rtt_us={self.rtt_us}, in_flight={self.in_flight})"


class RateSample:
    """``struct rate_sample`` (6.18 layout) passed to ``cong_control``.

    ::

        struct rate_sample {
            u64 prior_mstamp; u32 prior_delivered; u32 prior_delivered_ce;
            s32 delivered; s32 delivered_ce; long interval_us;
            u32 snd_interval_us; u32 rcv_interval_us; long rtt_us; int losses;
            u32 acked_sacked; u32 prior_in_flight; u32 last_end_seq;
            bool is_app_limited; bool is_retrans; bool is_ack_delayed;
        };
    """

    # One is made per ACK: the fields are class-level zero defaults (no ``__init__``), an
    # instance stores only what the ACK path writes (tcp_ack's ``rs = { 0 }``).
    prior_mstamp: int = 0
    prior_delivered: int = 0
    prior_delivered_ce: int = 0
    delivered: int = 0
    delivered_ce: int = 0
    interval_us: int = 0
    snd_interval_us: int = 0
    rcv_interval_us: int = 0
    rtt_us: int = -1
    losses: int = 0
    acked_sacked: int = 0
    prior_in_flight: int = 0
    last_end_seq: int = 0
    is_app_limited: bool = False
    is_retrans: bool = False
    is_ack_delayed: bool = False

    FIELDS = (
        "prior_mstamp",
        "prior_delivered",
        "prior_delivered_ce",
        "delivered",
        "delivered_ce",
        "interval_us",
        "snd_interval_us",
        "rcv_interval_us",
        "rtt_us",
        "losses",
        "acked_sacked",
        "prior_in_flight",
        "last_end_seq",
        "is_app_limited",
        "is_retrans",
        "is_ack_delayed",
    )

    def as_dict(self) -> dict[str, int | bool]:
        """The sample's fields by name."""
        return {name: getattr(self, name) for name in self.FIELDS}


__all__ = ["WRITABLE_FIELDS", "AckSample", "RateSample", "TcpSock"]
