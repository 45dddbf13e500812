"""Unit-testing helpers for struct_ops programs: call one callback, check what it did.

A BPF congestion control is normally exercised only through traffic.  These helpers
let a test call a single ``tcp_congestion_ops`` member the way the kernel's TCP stack
would, on a fresh embedded kernel, with socket fields as plain attributes::

    from structops.testing import load_cc

    with load_cc("reno.bpf.o") as cc:
        sk = cc.socket(snd_cwnd=10, snd_ssthresh=5)
        cc.cong_avoid(sk, ack=1, acked=1)
        assert sk.snd_cwnd == 11

The socket's fields are written into the kernel's ``struct tcp_sock`` before each call
and the fields a congestion control may write are read back after it, so a test never
has to think about kernel memory.  :func:`load_struct_ops` does the same for
``bpf_dummy_ops`` (through ``BPF_PROG_TEST_RUN``, as Linux offers) and for any other
struct_ops object.  The pytest plugin (:mod:`structops.testing.plugin`, registered as
the ``structops`` entry point) provides fixtures for a fresh embedded kernel and for
loading objects.
"""

from __future__ import annotations

from structops.testing._cc import CongestionControlUnderTest, TestSocket, load_cc
from structops.testing._globals import GlobalVariables
from structops.testing._ops import DummyState, StructOpsUnderTest, load_struct_ops

__all__ = [
    "CongestionControlUnderTest",
    "DummyState",
    "GlobalVariables",
    "StructOpsUnderTest",
    "TestSocket",
    "load_cc",
    "load_struct_ops",
]
