"""PERCPU_ARRAY and QUEUE/STACK maps of the embedded kernel (used by sched_ext schedulers)."""

from __future__ import annotations

import errno
import struct

import pytest

from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.schedsim.machine import Machine
from structops.uapi import Cmd, MapType


def _create(k: EmulatedKernel, t: MapType, key: int, value: int, n: int) -> int:
    return k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(t, key, value, n))


def test_percpu_array_one_copy_per_cpu() -> None:
    """A syscall lookup returns every CPU's copy (8-byte rounded); a program sees its CPU's."""
    k = EmulatedKernel()
    m = Machine(k, 3)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    fd = _create(k, MapType.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2)
    obj, _ = k.root.get_map(fd)
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=struct.pack("<I", 1), value=struct.pack("<I", 7)))
    assert obj.percpu_values(1) == [struct.pack("<I", 7)] * 3
    m.vm.cpu = 2
    addr = obj.prog_lookup(struct.pack("<I", 1))
    k.kmem.space.write(addr, struct.pack("<I", 9))
    assert obj.percpu_values(1) == [struct.pack("<I", 7), struct.pack("<I", 7), struct.pack("<I", 9)]
    out = bytearray(24)
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=struct.pack("<I", 1), value=out))
    assert struct.unpack("<IxxxxIxxxxIxxxx", bytes(out)) == (7, 7, 9)
    m.close()


@pytest.mark.parametrize(
    ("t", "order"), [(MapType.BPF_MAP_TYPE_QUEUE, [1, 2, 3]), (MapType.BPF_MAP_TYPE_STACK, [3, 2, 1])]
)
def test_queue_and_stack_order(t: MapType, order: list[int]) -> None:
    """QUEUE is FIFO, STACK is LIFO; full pushes are -E2BIG unless BPF_EXIST; empty is -ENOENT."""
    k = EmulatedKernel()
    fd = _create(k, t, 0, 4, 3)
    obj, _ = k.root.get_map(fd)
    for v in (1, 2, 3):
        assert obj.push(struct.pack("<I", v), 0) == 0
    assert obj.push(struct.pack("<I", 4), 0) == -errno.E2BIG
    got = [struct.unpack("<I", obj.take(True))[0] for _ in range(3)]
    assert got == order
    assert obj.take(True) is None
    with pytest.raises(BpfError) as ei:
        _create(k, t, 4, 4, 3)
    assert ei.value.errno == errno.EINVAL
