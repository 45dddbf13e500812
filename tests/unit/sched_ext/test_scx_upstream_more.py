"""More upstream sched-ext/scx C schedulers, unmodified, on the simulated machine (issue 13
stretch: scx_userland, scx_nest, scx_flatcg), and the kernel pieces they need.

The objects are built locally from sched-ext/scx (never committed); those tests skip when
they are absent.  ``STRUCTOPS_SCX_BUILD`` may point at another build directory.
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import pytest

from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.schedsim.job import SchedConfig, run_sched
from structops.schedsim.userland import PASS_NS
from structops.schedsim.workload import Group
from structops.uapi import Cmd, MapType

BUILD = Path(os.environ.get("STRUCTOPS_SCX_BUILD", "/work/ext/scx-build"))
CPU_BOUND = (Group("hog", count=8),)
SEC = 1_000_000_000


def _obj(name: str) -> Path:
    path = BUILD / f"scx_{name}.bpf.o"
    if not path.is_file():
        pytest.skip(f"{path} is absent (build sched-ext/scx scheds/c locally, or set STRUCTOPS_SCX_BUILD)")
    return path


# -- kernel pieces ------------------------------------------------------------------------------
def test_queue_map_push_and_pop_from_user_space() -> None:
    """QUEUE maps from user space (what scx_userland's user half does): UPDATE with a NULL key
    pushes, LOOKUP_AND_DELETE with a NULL key pops (map_pop_elem), an empty queue is ENOENT."""
    k = EmulatedKernel()
    fd = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_QUEUE, 0, 4, 4))
    for v in (5, 6):
        k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=None, value=struct.pack("<i", v)))
    got = []
    for _ in range(2):
        out = bytearray(4)
        k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(fd, key=None, value=out))
        got.append(struct.unpack("<i", out)[0])
    assert got == [5, 6]
    with pytest.raises(BpfError) as ei:
        k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(fd, key=None, value=bytearray(4)))
    assert ei.value.errno == errno.ENOENT


# -- scx_userland -------------------------------------------------------------------------------
def test_userland_runs_with_its_python_user_half() -> None:
    """scx_userland: every CPU-bound task goes through the Python user half (QUEUE ``enqueued``
    -> vruntime order -> QUEUE ``dispatched``), which runs as its own task and yields; no
    error exit, every task served, equal shares for equal weights.  The CPU that runs the
    user half stays busy; the others idle until the next tick after each synchronous slice
    expiry (update_idle kicks only while user space holds tasks, and it had dispatched all)."""
    res = run_sched(SchedConfig(_obj("userland"), cpus=4, duration_ns=SEC, workload=CPU_BOUND))
    assert res.exit is None
    assert res.scheduler == "userland"
    hogs = [t for t in res.machine.tasks if t.group == "hog"]
    user = next(t for t in res.machine.tasks if t.group == "usersched")
    assert all(t.runtime_ns > 400_000_000 for t in hogs)
    assert max(t.runtime_ns for t in hogs) - min(t.runtime_ns for t in hogs) < 30_000_000
    assert max(c.busy_ns for c in res.machine.cpus) == SEC
    assert all(c.busy_ns >= 0.9 * SEC for c in res.machine.cpus)
    assert res.maps["nr_user_enqueues"] > 100
    assert res.maps["nr_kernel_enqueues"] == 0 and res.maps["nr_failed_enqueues"] == 0
    # the user half ran in short passes (5 us each), not whole slices
    assert 0 < user.runtime_ns < 200 * PASS_NS


def test_userland_keeps_pinned_tasks_in_the_kernel() -> None:
    """keep_in_kernel(): a task allowed on fewer CPUs than exist is enqueued by BPF directly."""
    wl = (Group("hog", count=4), Group("pinned", count=1, affinity=(1,)))
    res = run_sched(SchedConfig(_obj("userland"), cpus=2, duration_ns=SEC // 2, workload=wl))
    assert res.exit is None
    assert res.maps["nr_kernel_enqueues"] > 0 and res.maps["nr_user_enqueues"] > 0
    pinned = next(t for t in res.machine.tasks if t.group == "pinned")
    assert pinned.runtime_ns > 50_000_000 and pinned.nr_migrations == 0
