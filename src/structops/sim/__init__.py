"""structops.sim: a deterministic TCP simulator with pluggable congestion control.

The simulator calls ``tcp_congestion_ops`` callbacks where and how Linux 6.18's
TCP stack does (net/ipv4/tcp_input.c, tcp_cong.c, tcp_output.c, tcp_rate.c), on a
:class:`TcpSock` that carries the kernel's field names, so a native Python CC and
a BPF struct_ops CC (through a bridge that syncs ``TcpSock`` with emulated kernel
memory) plug in the same way.  See docs/tcp-sim.md.

Public surface::

    Simulator, SimConfig, LinkConfig        the run
    TcpCongestionOps, CongestionRegistry    ops tables and the name registry
    TcpSock, RateSample, AckSample          what ops receive
    reno(), cubic()                         native reference CCs
    tcp_cong                                kfunc-equivalent helpers (module)
    FlowSummary, jain_fairness              results
"""

from __future__ import annotations

from structops.sim import consts, tcp_cong
from structops.sim.config import LinkConfig, SimConfig
from structops.sim.cubic import cubic
from structops.sim.engine import Simulator
from structops.sim.flow import TcpFlow
from structops.sim.listener import Listener
from structops.sim.ops import CongestionRegistry, TcpCongestionOps, reno, tcp_validate_congestion_control
from structops.sim.sock import AckSample, RateSample, TcpSock
from structops.sim.trace import FlowSummary, jain_fairness

__all__ = [
    "Listener",
    "AckSample",
    "CongestionRegistry",
    "FlowSummary",
    "LinkConfig",
    "RateSample",
    "SimConfig",
    "Simulator",
    "TcpCongestionOps",
    "TcpFlow",
    "TcpSock",
    "consts",
    "cubic",
    "jain_fairness",
    "reno",
    "tcp_cong",
    "tcp_validate_congestion_control",
]
