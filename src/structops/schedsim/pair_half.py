"""scx_pair's user-space half in Python: what ``scx_pair.c`` does around load, on the API.

scx_pair (SX-U7) makes sibling CPUs run tasks of one cgroup at a time.  Its C program

1. before load sets ``pair_batch_dur_ns`` to ``SCX_SLICE_DFL``, sizes ``pair_ctx`` to one
   entry per pair (``nr_cpu_ids / 2``), grows the ``RESIZABLE_ARRAY``s ``pair_cpu``,
   ``pair_id`` and ``in_pair_idx`` to ``nr_cpu_ids`` and pairs CPU ``i`` with
   ``(i + stride) % nr_cpu_ids`` (stride ``nr_cpu_ids / 2``): ``pair_cpu`` the sibling (-1
   unpaired), ``pair_id`` the lower CPU of the pair, ``in_pair_idx`` 0 or 1;
2. after load, before attach, fills the ``ARRAY_OF_MAPS`` ``cgrp_q_arr``: one new QUEUE map
   (u32 pids, ``MAX_QUEUED`` entries) per slot, stored by fd and then closed.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from structops.abi.attrs import MapCreateAttr, MapElemAttr
from structops.abi.consts import Cmd, MapType
from structops.kernel.subsys.sched_ext import consts as C

if TYPE_CHECKING:
    from structops.schedsim.machine import Machine

__all__ = ["PairHalf", "pair_half_for"]

_ARRAYS = ("pair_cpu", "pair_id", "in_pair_idx")


def pair_half_for(coll: Any) -> PairHalf | None:
    """The Python half an opened object needs when it has scx_pair's layout, or None."""
    from structops.loader import globals as gv

    names = gv.global_vars(coll.spec)
    if {"pair_batch_dur_ns", *_ARRAYS} <= set(names) and {"pair_ctx", "cgrp_q_arr"} <= set(coll.spec.maps):
        return PairHalf(coll)
    return None


def pairing(n: int, stride: int) -> tuple[list[int], list[int], list[int]]:
    """``(pair_cpu, pair_id, in_pair_idx)`` for ``n`` CPUs paired at ``stride``, as scx_pair.c."""
    pair_cpu, pair_id, idx = [-1] * n, [0] * n, [0] * n
    for i in range(n):
        j = (i + stride) % n
        if pair_cpu[i] >= 0:
            continue
        if i == j:
            raise ValueError(f"scx_pair: Invalid stride {stride} - CPU{i} wants to be its own pair")
        if pair_cpu[j] >= 0:
            raise ValueError(
                f"scx_pair: Invalid stride {stride} - three CPUs ({i}, {j}, {pair_cpu[j]}) want to be a pair"
            )
        pair_cpu[i], pair_cpu[j] = j, i
        pair_id[i] = pair_id[j] = i
        idx[i], idx[j] = 0, 1
    return pair_cpu, pair_id, idx


class PairHalf:
    """scx_pair's setup around load (no loop afterwards: its C program only prints counters)."""

    def __init__(self, coll: Any) -> None:
        self.coll = coll

    def prepare(self, machine: Machine) -> None:
        """Before load: the batch duration, ``pair_ctx`` size and the CPU pairing arrays."""
        from structops.loader import globals as gv
        from structops.loader.resize import resize_array

        spec = self.coll.spec
        n = machine.nr_cpus
        self.coll.set_global("pair_batch_dur_ns", C.SCX_SLICE_DFL)
        spec.maps["pair_ctx"].max_entries = n // 2
        values = dict(zip(_ARRAYS, pairing(n, n // 2), strict=True))
        for name, vals in values.items():
            resize_array(spec, name, n)
            var = gv.global_vars(spec)[name]
            m = spec.maps[var.map_name]
            fmt = "<i" if name == "pair_cpu" else "<I"
            m.contents = b"".join(struct.pack(fmt, v) for v in vals)

    def start(self) -> None:
        """After load: one QUEUE map per ``cgrp_q_arr`` slot (the C program's "Initializing")."""
        outer = self.coll.maps["cgrp_q_arr"]
        inner = self.coll.spec.maps["cgrp_q_arr"].inner
        assert inner is not None
        kernel = self.coll.kernel
        attr = MapCreateAttr(int(MapType.BPF_MAP_TYPE_QUEUE), 0, inner.value_size, inner.max_entries)
        for i in range(outer.spec.max_entries):
            fd = kernel.bpf(Cmd.BPF_MAP_CREATE, attr)
            try:
                kernel.bpf(
                    Cmd.BPF_MAP_UPDATE_ELEM,
                    MapElemAttr(outer.fd, key=struct.pack("<i", i), value=struct.pack("<i", fd)),
                )
            finally:
                kernel.close(fd)
