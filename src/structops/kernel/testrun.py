"""BPF_PROG_TEST_RUN in the embedded kernel.

struct_ops programs go to the ``bpf_dummy_ops`` runner (DM6-DM7; any other struct_ops
program gets -EOPNOTSUPP from it); tc programs (SCHED_CLS / SCHED_ACT) and socket filters
run on an skb built from ``data_in`` (:mod:`structops.kernel.testrun_skb`) and XDP programs on an
``xdp_buff`` (:mod:`structops.kernel.testrun_xdp`), with direct packet access; other
program types use the VM's generic runner (ctx_in as the context) when one is attached,
else -ENOTSUPP like a kernel without ``.test_run``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.subsys.dummy_ops import test_run as dummy_test_run
from structops.kernel.testrun_skb import test_run_skb
from structops.kernel.testrun_xdp import test_run_xdp
from structops.uapi import ENOTSUPP, ProgType

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.emulated import Process
    from structops.kernel.prog import BpfProg

__all__ = ["test_run"]

_SKB_TYPES = frozenset(
    {ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT, ProgType.BPF_PROG_TYPE_SOCKET_FILTER}
)


def test_run(proc: Process, prog: BpfProg, attr: TestRunAttr) -> int:
    """Dispatch BPF_PROG_TEST_RUN by program type."""
    if prog.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS:
        return dummy_test_run(proc, prog, attr)
    if prog.prog_type in _SKB_TYPES:
        return test_run_skb(proc, prog, attr)
    if prog.prog_type == ProgType.BPF_PROG_TYPE_XDP:
        return test_run_xdp(proc, prog, attr)
    runner = getattr(proc.kernel.executor, "test_run", None)
    if runner is None:
        raise bpf_error(ENOTSUPP, "test_run is not supported for this program type")
    if attr.ctx_in is not None and not isinstance(attr.ctx_in, bytes | bytearray):
        raise bpf_error(errno.EFAULT, "bad ctx_in")
    return int(runner(proc, prog, attr))
