"""One tcp_congestion_ops member list (issue 10 item 5): the kernel subsystem uses the
simulator's table, and that table is the struct's callable members in BTF order."""

from __future__ import annotations

from structops import btf as btflib
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys import tcp_ca
from structops.sim.ops import OP_NAMES, TcpCongestionOps


def test_kernel_and_simulator_share_one_table() -> None:
    assert tcp_ca._OPS is OP_NAMES


def test_table_is_the_structs_function_pointers() -> None:
    spec = EmulatedKernel().vmlinux.spec
    st = spec.find("tcp_congestion_ops", btflib.Struct)
    fptrs = [
        m.name
        for m in st.members
        if isinstance(btflib.underlying(m.type), btflib.Pointer)
        and isinstance(btflib.underlying(btflib.underlying(m.type).target), btflib.FuncProto)
    ]
    assert [n for n in fptrs if n != "get_info"] == list(OP_NAMES)
    assert all(hasattr(TcpCongestionOps("x"), op) for op in OP_NAMES)
