"""``RunConfig``: what ``structops run`` simulates, and the unit parsers of its options.

Rates accept ``bit/s`` numbers with an optional ``k``/``m``/``g`` prefix and ``bit``/
``bps`` suffix (``20mbit``, ``1.5G``, ``100000000``); times accept ``us``/``ms``/``s``
suffixes (``20ms``, ``0.5s``; a bare number is read in the option's default unit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["DIRECTIONS", "EXAMPLES", "RunConfig", "example_path", "parse_rate", "parse_time_us"]

#: Who sends data (``--direction``): the clients, the accepted sockets, or both.
DIRECTIONS = ("up", "down", "both")

#: Example objects shipped as package data (``structops run --example NAME``).
EXAMPLES = ("reno", "reno_v2", "cubic", "cubic_like", "dctcp", "dctcp_like")

_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmg]?)(?:bit|bps|b)?(?:/s)?\s*$", re.IGNORECASE)
_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|ms|s)?\s*$", re.IGNORECASE)
_PREFIX = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_UNIT_US = {"us": 1, "ms": 1_000, "s": 1_000_000}


def parse_rate(text: str) -> int:
    """``"20mbit"`` -> 20_000_000 bit/s; ValueError for anything else or a zero rate."""
    m = _RATE.match(text)
    if m is None:
        raise ValueError(f"bad rate {text!r} (examples: 20mbit, 1G, 500k)")
    value = int(float(m.group(1)) * _PREFIX[m.group(2).lower()])
    if value <= 0:
        raise ValueError(f"rate must be positive, got {text!r}")
    return value


def parse_time_us(text: str, default_unit: str = "ms") -> int:
    """``"20ms"`` -> 20_000 us; a bare number is in ``default_unit``."""
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"bad time {text!r} (examples: 20ms, 0.5s, 800us)")
    unit = (m.group(2) or default_unit).lower()
    return int(float(m.group(1)) * _UNIT_US[unit])


def example_path(name: str) -> Path:
    """The shipped example object ``name`` (``reno`` -> ``.../run/examples/reno.bpf.o``)."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r} (available: {', '.join(EXAMPLES)})")
    ref = resources.files("structops.run").joinpath("examples", f"{name}.bpf.o")
    path = Path(str(ref))
    if not path.is_file():
        raise FileNotFoundError(f"example object {path} is missing from the installation")
    return path


@dataclass(frozen=True)
class RunConfig:
    """One ``structops run`` job.

    ``flows`` bulk flows share a ``bandwidth_bps`` bottleneck with ``rtt_us`` base RTT and
    a drop-tail buffer of ``buffer_pkts`` (default: one bandwidth-delay product, at least
    10).  Without a swap the flows start ``stagger_us`` apart; with ``swap`` (another
    object whose struct_ops map replaces the registered one through BPF_LINK_UPDATE at
    ``swap_at_us``) the second half of the flows starts right after the swap so they pick
    up the new version.

    With ``listener`` the flows are accepted from a listening socket set up at time 0
    with the registered CC (each accepted socket inherits it and holds a map reference);
    ``direction`` says who sends: ``"up"`` (the clients), ``"down"`` (the accepted
    sockets, with the listener's CC, over the link's reverse direction) or ``"both"``.
    ``"down"`` and ``"both"`` imply ``listener``.
    """

    obj: Path
    map_name: str | None = None
    flows: int = 4
    duration_us: int = 10_000_000
    bandwidth_bps: int = 20_000_000
    rtt_us: int = 20_000
    loss: float = 0.0
    seed: int = 1
    buffer_pkts: int | None = None
    ecn_threshold_pkts: int | None = None
    swap: Path | None = None
    swap_map: str | None = None
    swap_at_us: int | None = None
    stagger_us: int = 10_000
    sample_interval_us: int = 100_000
    csv: Path | None = None
    plot: Path | None = None
    listener: bool = False
    direction: str = "up"

    def __post_init__(self) -> None:
        if self.flows < 1:
            raise ValueError(f"--flows must be >= 1, got {self.flows}")
        if self.duration_us <= 0:
            raise ValueError("--duration must be positive")
        if self.rtt_us < 1:
            raise ValueError("--rtt must be at least 1 us")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"--loss must be in [0, 1), got {self.loss}")
        if self.buffer_pkts is not None and self.buffer_pkts < 1:
            raise ValueError("--buffer must be >= 1 packet")
        if (self.swap is None) != (self.swap_at_us is None):
            raise ValueError("--swap and --at go together")
        if self.swap_at_us is not None and not 0 <= self.swap_at_us < self.duration_us:
            raise ValueError("--at must lie inside the run (0 <= T < duration)")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"--direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if self.sample_interval_us < 1:
            raise ValueError("the sample interval must be positive")

    @property
    def buffer(self) -> int:
        """The bottleneck buffer in packets (one BDP of 1500-byte packets by default)."""
        if self.buffer_pkts is not None:
            return self.buffer_pkts
        bdp = self.bandwidth_bps * self.rtt_us // (8 * 1500 * 1_000_000)
        return max(bdp, 10)

    @property
    def accepts(self) -> bool:
        """Flows are accepted from a listener (asked for, or needed for server-to-client data)."""
        return self.listener or self.direction != "up"

    def start_times_us(self) -> list[int]:
        """When each flow connects."""
        if self.swap_at_us is None:
            return [i * self.stagger_us for i in range(self.flows)]
        early = (self.flows + 1) // 2
        starts = [i * self.stagger_us for i in range(early)]
        late = self.flows - early
        starts += [self.swap_at_us + (i + 1) * self.stagger_us for i in range(late)]
        return [min(t, self.duration_us - 1) for t in starts]
