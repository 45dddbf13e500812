"""The TCP simulator the emulated kernel runs tcp_congestion_ops in (entry point).

The implementation lives in :mod:`structops.sim` (engine, flows, the
``TcpSock`` state with kernel field names, Reno / CUBIC, the registry); this
module re-exports what the kernel subsystem needs.  See docs/tcp-sim.md.
"""

from __future__ import annotations

from structops import sim as _sim
from structops.sim import *  # noqa: F403  (the simulator's public surface, re-exported as is)
from structops.sim.ops import OP_NAMES
from structops.sim.sock import WRITABLE_FIELDS

__all__ = ["OP_NAMES", "WRITABLE_FIELDS", *_sim.__all__]
