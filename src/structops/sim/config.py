"""Simulation parameters: the bottleneck link and the TCP knobs (sysctl-like)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkConfig:
    """The shared bottleneck: rate, FIFO drop-tail buffer, random loss, ECN marking.

    ``buffer_pkts`` counts packets in the system (queued plus the one on the wire);
    ``buffer_bytes``, when given, overrides it as ``buffer_bytes // wire size``.
    ECN-capable packets are CE-marked when they arrive to find at least
    ``ecn_threshold_pkts`` packets queued (instantaneous threshold marking, as for
    DCTCP); others are only dropped when the buffer is full.  ``loss_prob`` drops
    each data packet independently before it is queued, from a seeded RNG.
    """

    bandwidth_bps: int = 100_000_000
    buffer_pkts: int = 100
    buffer_bytes: int | None = None
    ecn_threshold_pkts: int | None = None
    loss_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.bandwidth_bps <= 0:
            raise ValueError(f"bandwidth_bps must be positive, got {self.bandwidth_bps}")
        if self.buffer_pkts < 1:
            raise ValueError(f"buffer_pkts must be >= 1, got {self.buffer_pkts}")
        if self.buffer_bytes is not None and self.buffer_bytes < 1:
            raise ValueError(f"buffer_bytes must be >= 1, got {self.buffer_bytes}")
        if self.ecn_threshold_pkts is not None and self.ecn_threshold_pkts < 0:
            raise ValueError(f"ecn_threshold_pkts must be >= 0, got {self.ecn_threshold_pkts}")
        if not 0.0 <= self.loss_prob < 1.0:
            raise ValueError(f"loss_prob must be in [0, 1), got {self.loss_prob}")


@dataclass(frozen=True)
class SimConfig:
    """Whole-simulation settings.

    ``mss`` is the payload per segment; every data packet carries exactly one MSS
    and occupies ``mss + header_bytes`` on the wire.  ``hz`` is the jiffy rate used
    for the kernel fields kept in jiffies (``CONFIG_HZ``: 250 on this machine and in
    Debian's kernels).  ``ecn`` is ``sysctl net.ipv4.tcp_ecn=1``
    for every flow (flows whose CC has ``TCP_CONG_NEEDS_ECN`` use ECN anyway).
    ``sample_interval_us`` is the period of the per-flow trace (0 disables it);
    ``trace_ops`` records every congestion-control op call per flow.

    ``rack`` selects Linux's default loss detection, RACK (time based, RFC 8985);
    off, losses are marked by RFC 6675's IsLost (DupThresh = ``reordering``).  ``tlp``
    sends Linux's tail loss probe (2 RTTs after the last send, in Open/CWR).

    Realistic variation (on by default; the seed drives it): each flow connects up to
    ``start_jitter_us`` later than asked, and every packet and ACK spends up to
    ``proc_jitter_us`` extra in host processing on its way (uniform, per packet, never
    reordering a flow's packets).  Set both to 0 for the exact, jitter-free model.
    """

    link: LinkConfig = field(default_factory=LinkConfig)
    mss: int = 1448
    header_bytes: int = 52
    seed: int = 1
    delayed_ack: bool = True
    delack_us: int = 40_000
    init_cwnd: int = 10
    sample_interval_us: int = 10_000
    trace_ops: bool = False
    ecn: bool = False
    hz: int = 250
    slow_start_after_idle: bool = True
    random_isn: bool = True
    rack: bool = True
    tlp: bool = True
    start_jitter_us: int = 1000
    proc_jitter_us: int = 20

    def __post_init__(self) -> None:
        for name in ("start_jitter_us", "proc_jitter_us"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("mss", "init_cwnd", "hz", "delack_us"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.header_bytes < 0:
            raise ValueError(f"header_bytes must be >= 0, got {self.header_bytes}")
        if self.sample_interval_us < 0:
            raise ValueError(f"sample_interval_us must be >= 0, got {self.sample_interval_us}")

    @property
    def wire_bytes(self) -> int:
        """Bytes one data packet occupies on the bottleneck."""
        return self.mss + self.header_bytes

    @property
    def buffer_limit(self) -> int:
        """The buffer size in packets."""
        if self.link.buffer_bytes is not None:
            return max(1, self.link.buffer_bytes // self.wire_bytes)
        return self.link.buffer_pkts


__all__ = ["LinkConfig", "SimConfig"]
