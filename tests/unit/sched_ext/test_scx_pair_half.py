"""scx_pair's user-space half (schedsim/pair_half.py): the CPU pairing and the map setup
its C program does around load (SX-U7), on the embedded kernel."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim.pair_half import PairHalf, pair_half_for, pairing

BUILD = Path(os.environ.get("STRUCTOPS_SCX_BUILD", "/work/ext/scx-build"))


def test_pairing_as_scx_pair_c() -> None:
    """CPU i pairs with (i + stride) % n; pair_id is the lower CPU, in_pair_idx 0/1 (SX-U7)."""
    assert pairing(4, 2) == ([2, 3, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1])
    assert pairing(8, 4)[0] == [4, 5, 6, 7, 0, 1, 2, 3]
    assert pairing(6, 1) == ([1, 0, 3, 2, 5, 4], [0, 0, 2, 2, 4, 4], [0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="CPU0 wants to be its own pair"):
        pairing(4, 4)
    with pytest.raises(ValueError, match=r"three CPUs \(2, 0, 1\) want to be a pair"):
        pairing(3, 1)  # scx_pair.c's SCX_BUG_ON messages


def test_pair_half_sets_rodata_and_fills_the_cgroup_queues() -> None:
    """Before load: pair_batch_dur_ns = SCX_SLICE_DFL, pair_ctx has nr_cpus/2 entries, the
    pairing arrays hold nr_cpus values; after load every cgrp_q_arr slot holds its own QUEUE
    map (template: u32 values, MAX_QUEUED entries), and every program passed the verifier
    (bpf_spin_lock included)."""
    obj = BUILD / "scx_pair.bpf.o"
    if not obj.is_file():
        pytest.skip(f"{obj} is absent (build sched-ext/scx scheds/c locally, or set STRUCTOPS_SCX_BUILD)")
    from structops.kernel.emulated import EmulatedKernel
    from structops.schedsim.job import load_scheduler
    from structops.schedsim.machine import Machine

    kernel = EmulatedKernel()
    machine = Machine(kernel, 4)
    kernel.sched_ext.machine = machine  # type: ignore[attr-defined]
    halves: list[PairHalf] = []

    def before_load(coll: object) -> None:
        half = pair_half_for(coll)
        assert half is not None
        half.prepare(machine)
        halves.append(half)

    coll = load_scheduler(kernel, obj, 4, before_load)
    try:
        halves[0].start()
        assert coll.get_global("pair_batch_dur_ns") == C.SCX_SLICE_DFL
        assert coll.maps["pair_ctx"].spec.max_entries == 2
        from structops.loader.globals import global_vars

        arrays = {n: global_vars(coll.spec)[n].map_name for n in ("pair_cpu", "pair_id", "in_pair_idx")}
        assert struct.unpack("<4i", coll.maps[arrays["pair_cpu"]].lookup(0)) == (2, 3, 0, 1)
        assert struct.unpack("<4I", coll.maps[arrays["pair_id"]].lookup(0)) == (0, 1, 0, 1)
        assert struct.unpack("<4I", coll.maps[arrays["in_pair_idx"]].lookup(0)) == (0, 0, 1, 1)
        outer, _ = kernel.root.get_map(coll.maps["cgrp_q_arr"].fd)
        slots = outer.slots  # type: ignore[attr-defined]
        assert len(slots) == 4096 and all(q is not None for q in slots)
        assert len({id(q) for q in slots}) == 4096
        assert slots[0].max_entries == 4096 and slots[0].value_size == 4
    finally:
        coll.close()
        machine.close()


def test_bpf_clocks_read_time_since_boot() -> None:
    """BPF clocks (bpf_ktime_get_ns, bpf_timer deadlines, scx_bpf_now) read uptime: the
    simulated machine has been up BOOT_NS at time 0 (SX-K29: the rq clock is sched_clock,
    never 0 once a scheduler can load); the VM gets its own clock back at close."""
    from structops.kernel.emulated import EmulatedKernel
    from structops.schedsim.machine import BOOT_NS, Machine

    kernel = EmulatedKernel()
    vm = kernel.executor.vm  # type: ignore[attr-defined]
    machine = Machine(kernel, 2)
    try:
        assert vm.clock_ns() == BOOT_NS == machine.boot_ns
        machine.run(3_000_000)
        assert vm.clock_ns() == BOOT_NS + machine.now
    finally:
        machine.close()
    assert vm.clock_ns() != BOOT_NS + machine.now
