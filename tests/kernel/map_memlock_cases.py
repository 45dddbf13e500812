"""The fdinfo ``memlock`` of maps (``map->ops->map_mem_usage()``), written once against the
``Kernel`` protocol: ``tests/unit/kernel/test_map_memlock.py`` checks the embedded kernel
against the values measured on Linux 6.18, ``tests/kernel/test_map_memlock_real.py``
compares both kernels on the same creation attributes and contents.

Each :class:`Case` creates one map, fills it (``inserts`` elements, optionally overwrites
the first and deletes it), and reads ``memlock`` after every step.  ``linux`` holds what
``/proc/self/fdinfo`` showed for those steps on the project machine: Linux
6.18.44 x86-64, 2 possible CPUs (``/sys/devices/system/cpu/possible`` = ``0-1``), measured
through ``structops.linux.LinuxKernel`` (the local storage rows with real sockets and a
pidfd as keys).
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from structops import btf as btflib
from structops.abi.attrs import BtfLoadAttr, MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.maps.sk_storage import BPF_SK_STORAGE_GET_F_CREATE, SkStorageMap
from structops.kernel.protocol import Kernel
from structops.linux.fdinfo import parse_fdinfo
from structops.schedsim.machine import Machine
from structops.uapi import Cmd, MapFlags, MapType

T = MapType
MMAP = int(MapFlags.BPF_F_MMAPABLE)
NOPRE = int(MapFlags.BPF_F_NO_PREALLOC)
#: Possible CPUs of the machine the ``linux`` columns were measured on.
MEASURED_NCPUS = 2
#: Key ``int`` (id 1) and value ``u64`` (id 2): what local storage maps require.
_BTF = btflib.encode([btflib.Int("int", 4, btflib.IntEncoding.SIGNED), btflib.Int("u64", 8)])
_STORAGE = frozenset({int(T.BPF_MAP_TYPE_SK_STORAGE), int(T.BPF_MAP_TYPE_TASK_STORAGE)})
_MAP_IN_MAP = frozenset({int(T.BPF_MAP_TYPE_ARRAY_OF_MAPS), int(T.BPF_MAP_TYPE_HASH_OF_MAPS)})
_KEYLESS = frozenset({int(T.BPF_MAP_TYPE_QUEUE), int(T.BPF_MAP_TYPE_STACK)})


@dataclass(frozen=True)
class Case:
    """One map: creation attributes, contents, and the memlock Linux 6.18 showed."""

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    #: Elements stored one by one after creation (memlock read after each).
    inserts: int = 0
    #: Then overwrite the first element and delete it (memlock read after each).
    overwrite_delete: bool = False
    #: memlock at creation, after each insert, then after the overwrite and the delete.
    linux: tuple[int, ...] = ()


def _c(
    name: str, mtype: int, ks: int, vs: int, n: int, *linux: int, flags: int = 0, ins: int = 0, od: bool = False
) -> Case:
    return Case(name, int(mtype), ks, vs, n, flags, ins, od, tuple(linux))


A, PA, H = T.BPF_MAP_TYPE_ARRAY, T.BPF_MAP_TYPE_PERCPU_ARRAY, T.BPF_MAP_TYPE_HASH
AOM, HOM = T.BPF_MAP_TYPE_ARRAY_OF_MAPS, T.BPF_MAP_TYPE_HASH_OF_MAPS
Q, S = T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK

CASES: list[Case] = [
    # array: sizeof(struct bpf_array) 312 + entries * round_up(value, 8); mmapable page-aligns both
    _c("array_4x1", A, 4, 4, 1, 320, 320, ins=1),
    _c("array_1x3", A, 4, 1, 3, 336),
    _c("array_9x3", A, 4, 9, 3, 360),
    _c("array_8x100", A, 4, 8, 100, 1112),
    _c("array_100x1000", A, 4, 100, 1000, 104312),
    _c("array_5000x3", A, 4, 5000, 3, 15312),
    _c("array_mmap_1x1", A, 4, 1, 1, 8192, flags=MMAP),
    _c("array_mmap_4x1000", A, 4, 4, 1000, 12288, flags=MMAP),
    _c("array_mmap_9x1000", A, 4, 9, 1000, 20480, flags=MMAP),
    _c("array_mmap_4096x3", A, 4, 4096, 3, 16384, flags=MMAP),
    _c("array_mmap_5000x1", A, 4, 5000, 1, 12288, flags=MMAP),
    # per-CPU array: + a pointer per entry + every value once per possible CPU
    _c("percpu_array_1x1", PA, 4, 1, 1, 336),
    _c("percpu_array_9x3", PA, 4, 9, 3, 432),
    _c("percpu_array_100x100", PA, 4, 100, 100, 21912, 21912, ins=1),
    # preallocated hash: fixed at creation (spare per-CPU elements included)
    _c("hash_4_8x1", H, 4, 8, 1, 1120),
    _c("hash_4_8x100", H, 4, 8, 100, 9488, 9488, 9488, 9488, 9488, 9488, ins=3, od=True),
    _c("hash_1_1x3", H, 1, 1, 3, 1296),
    _c("hash_9_17x3", H, 9, 17, 3, 1416),
    _c("hash_9_17x1000", H, 9, 17, 1000, 105472),
    _c("hash_64_256x1000", H, 64, 256, 1000, 386032),
    # BPF_F_NO_PREALLOC hash: the live elements, each with a free-list node
    _c("hash_noprealloc_4_8x3", H, 4, 8, 3, 960, 1032, 1104, 1176, 1176, 1104, flags=NOPRE, ins=3, od=True),
    _c("hash_noprealloc_9_17x100", H, 9, 17, 100, 2944, 3040, 3136, 3232, 3232, 3136, flags=NOPRE, ins=3, od=True),
    _c("hash_noprealloc_64_256x1000", H, 64, 256, 1000, 17280, 17656, 18032, flags=NOPRE, ins=2),
    _c("hash_noprealloc_4_8x1", H, 4, 8, 1, 912, 984, 984, 912, flags=NOPRE, ins=1, od=True),
    # queue / stack: sizeof(struct bpf_queue_stack) 312 + (entries + 1) * value_size, unpadded
    _c("queue_1x1", Q, 0, 1, 1, 314, 314, ins=1),
    _c("queue_9x100", Q, 0, 9, 100, 1221, 1221, 1221, 1221, ins=3),
    _c("stack_100x3", S, 0, 100, 3, 712, 712, 712, 712, ins=3),
    _c("stack_4x100", S, 0, 4, 100, 716),
    # map-in-map (inner template: an ARRAY 4B/4B x1): an array of pointers / an fd hash
    _c("array_of_maps_x1", AOM, 4, 4, 1, 320, 320, ins=1),
    _c("array_of_maps_x2", AOM, 4, 4, 2, 328, 328, 328, ins=2),
    _c("array_of_maps_x1000", AOM, 4, 4, 1000, 8312, 8312, 8312, ins=2),
    _c("hash_of_maps_4x1", HOM, 4, 4, 1, 992, 992, ins=1),
    _c("hash_of_maps_4x100", HOM, 4, 4, 100, 9360, 9360, 9360, 9360, 9360, 9360, ins=3, od=True),
    _c("hash_of_maps_9x3", HOM, 9, 4, 3, 1192),
    _c("hash_of_maps_noprealloc_4x3", HOM, 4, 4, 3, 960, 1032, 1104, 1176, 1176, 1104, flags=NOPRE, ins=3, od=True),
    _c("hash_of_maps_noprealloc_9x100", HOM, 9, 4, 100, 2944, 3024, 3104, 3184, flags=NOPRE, ins=3),
    # local storage: sizeof(struct bpf_local_storage_map) 480 + 16 * max(2, roundup_pow_of_two(ncpus));
    # the storage elements are not counted
    _c("sk_storage", T.BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, 512, 512, 512, 512, flags=NOPRE, ins=3),
    _c("task_storage", T.BPF_MAP_TYPE_TASK_STORAGE, 4, 8, 0, 512, 512, flags=NOPRE, ins=1),
    _c("cgrp_storage", T.BPF_MAP_TYPE_CGRP_STORAGE, 4, 8, 0, 512, flags=NOPRE),
]


def _key(case: Case, i: int) -> bytes:
    return (
        struct.pack("<I", i).ljust(case.key_size, b"\0")[: case.key_size]
        if case.key_size >= 4
        else bytes([i] * case.key_size)
    )


class Run:
    """Creates one case's map on ``k`` and reads its memlock with ``fdinfo``; :meth:`close` frees all."""

    def __init__(self, k: Kernel, fdinfo: Callable[[int], dict[str, str]]) -> None:
        self.k = k
        self.fdinfo = fdinfo
        self.fds: list[int] = []
        self.pidfds: list[int] = []
        self.socks: list[socket.socket] = []
        #: Storage insertion for a kernel without user-space keys: ``(map fd, i) -> None``.
        self.insert_storage: Callable[[int, int], None] | None = None

    def _own(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def memlock(self, fd: int) -> int:
        return int(self.fdinfo(fd)["memlock"])

    def create(self, case: Case) -> int:
        kw: dict[str, int] = {"map_flags": case.flags}
        if case.map_type in _MAP_IN_MAP:
            kw["inner_map_fd"] = self._inner()
        if case.map_type in _STORAGE or case.map_type == T.BPF_MAP_TYPE_CGRP_STORAGE:
            kw.update(
                btf_fd=self._own(self.k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=_BTF))),
                btf_key_type_id=1,
                btf_value_type_id=2,
            )
        attr = MapCreateAttr(case.map_type, case.key_size, case.value_size, case.max_entries, **kw)
        return self._own(self.k.bpf(Cmd.BPF_MAP_CREATE, attr))

    def _inner(self) -> int:
        return self._own(self.k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(T.BPF_MAP_TYPE_ARRAY), 4, 4, 1)))

    def _value(self, case: Case) -> bytes:
        if case.map_type in _MAP_IN_MAP:
            return struct.pack("<i", self._inner())
        return bytes(case.value_size)

    def update(self, fd: int, case: Case, i: int) -> None:
        """Store element ``i`` of ``case`` in map ``fd``."""
        key: bytes | None
        if case.map_type in _STORAGE:
            if self.insert_storage is not None:
                self.insert_storage(fd, i)
                return
            key = self._storage_key(case)
        else:
            key = None if case.map_type in _KEYLESS else _key(case, i)
        self.k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=key, value=self._value(case)))

    def _storage_key(self, case: Case) -> bytes:
        if case.map_type == T.BPF_MAP_TYPE_TASK_STORAGE:
            pidfd = os.pidfd_open(os.getpid())
            self.pidfds.append(pidfd)
            return struct.pack("<i", pidfd)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socks.append(s)
        return struct.pack("<i", s.fileno())

    def run(self, case: Case) -> tuple[int, ...]:
        """memlock at creation, after each insert and after the overwrite and delete."""
        fd = self.create(case)
        seen = [self.memlock(fd)]
        for i in range(case.inserts):
            self.update(fd, case, i)
            seen.append(self.memlock(fd))
        if case.overwrite_delete:
            self.update(fd, case, 0)
            seen.append(self.memlock(fd))
            self.k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=_key(case, 0)))
            seen.append(self.memlock(fd))
        return tuple(seen)

    def close(self) -> None:
        for fd in reversed(self.fds):
            self.k.close(fd)
        for fd in self.pidfds:
            os.close(fd)
        for s in self.socks:
            s.close()
        self.fds.clear()
        self.pidfds.clear()
        self.socks.clear()


def embedded_run(k: EmulatedKernel) -> Run:
    """A case runner on the embedded kernel: its fdinfo, storage created as a program would."""
    run = Run(k, lambda fd: parse_fdinfo(k.root.fdinfo(fd)))

    def insert_storage(fd: int, i: int) -> None:  # no socket fds / pidfds here: bpf_*_storage_get
        m, _ = k.root.get_map(fd)
        assert isinstance(m, SkStorageMap)
        assert m.storage_get(0x10000 + 0x1000 * i, None, BPF_SK_STORAGE_GET_F_CREATE)

    run.insert_storage = insert_storage
    return run


def kernel_with_cpus(ncpus: int) -> EmulatedKernel:
    """An embedded kernel whose possible CPUs are those of a bound ``ncpus``-CPU machine."""
    k = EmulatedKernel()
    k.sched_ext.machine = Machine(k, ncpus)  # type: ignore[attr-defined]
    return k
