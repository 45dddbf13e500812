"""``BPF_MAP_TYPE_QUEUE`` and ``BPF_MAP_TYPE_STACK``: keyless FIFO / LIFO of fixed-size values.

Programs use ``bpf_map_push_elem`` (``BPF_EXIST`` overwrites the oldest when full,
otherwise ``-E2BIG``), ``bpf_map_pop_elem`` and ``bpf_map_peek_elem`` (``-ENOENT`` when
empty); user space pushes with UPDATE (key NULL) and pops with LOOKUP_AND_DELETE.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error
from structops.kernel.maps.base import DATA_MAP_FLAGS, DataMap
from structops.kernel.maps.memusage import queue_stack_mem_usage
from structops.uapi import MapType, UpdateFlags

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.services import KernelServices
    from structops.vm import HelperSpec

__all__ = ["QueueMap", "StackMap", "queue_helpers"]

_U64 = (1 << 64) - 1


class QueueMap(DataMap):
    """A FIFO of ``max_entries`` values."""

    TYPE = MapType.BPF_MAP_TYPE_QUEUE
    ALLOWED_FLAGS = DATA_MAP_FLAGS
    LIFO = False

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """key_size 0, value_size > 0, max_entries > 0 (-EINVAL)."""
        super().alloc_check(attr)
        if attr.key_size != 0 or attr.value_size == 0 or attr.max_entries == 0:
            raise bpf_error(errno.EINVAL, "queue/stack map needs key_size 0, value_size > 0, max_entries > 0")

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr) -> None:
        super().__init__(kernel, attr)
        self.items: deque[bytes] = deque()

    def push(self, value: bytes, flags: int) -> int:
        """Push a value; 0 or -errno."""
        if flags & ~int(UpdateFlags.BPF_EXIST):
            return -errno.EINVAL
        if len(self.items) >= self.max_entries:
            if not flags & UpdateFlags.BPF_EXIST:
                return -errno.E2BIG
            self.items.popleft()
        self.items.append(bytes(value[: self.value_size]))
        return 0

    def take(self, remove: bool) -> bytes | None:
        """Pop (or peek) the next value."""
        if not self.items:
            return None
        if self.LIFO:
            return self.items.pop() if remove else self.items[-1]
        return self.items.popleft() if remove else self.items[0]

    def lookup(self, key: bytes) -> bytes:
        v = self.take(False)
        if v is None:
            raise bpf_error(errno.ENOENT, "queue is empty")
        return v

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        err = self.push(value, flags)
        if err:
            raise bpf_error(-err, "queue push failed")

    def delete(self, key: bytes) -> None:
        raise bpf_error(errno.EINVAL, "queue elements cannot be deleted by key")

    def get_next_key(self, key: bytes | None) -> bytes:
        raise bpf_error(errno.EINVAL, "queue maps have no keys")

    def mem_usage(self) -> int:
        """``queue_stack_map_mem_usage``: fixed at creation, whatever the queue holds."""
        return queue_stack_mem_usage(self.value_size, self.max_entries)


class StackMap(QueueMap):
    """A LIFO of ``max_entries`` values."""

    TYPE = MapType.BPF_MAP_TYPE_STACK
    LIFO = True


def queue_helpers(kernel: Any) -> list[HelperSpec]:
    """VM helpers ``bpf_map_push_elem`` (87), ``bpf_map_pop_elem`` (88), ``bpf_map_peek_elem`` (89)."""
    from structops.vm import ArgType, HelperSpec

    def qmap(addr: int) -> QueueMap | None:
        backend = kernel.executor.vm.map_at(addr) if kernel.executor is not None else None
        m = getattr(backend, "m", None)
        return m if isinstance(m, QueueMap) else None

    def push(run: object, r1: int, r2: int, r3: int, *_: int) -> int:
        m = qmap(r1)
        if m is None:
            return -errno.EINVAL & _U64
        return m.push(kernel.kmem.space.read(r2, m.value_size), r3) & _U64

    def take(remove: bool) -> Any:
        def fn(run: object, r1: int, r2: int, *_: int) -> int:
            m = qmap(r1)
            if m is None:
                return -errno.EINVAL & _U64
            v = m.take(remove)
            if v is None:
                return -errno.ENOENT & _U64
            kernel.kmem.space.write(r2, v)
            return 0

        return fn

    args2 = (ArgType.CONST_MAP_PTR, ArgType.ANYTHING)
    return [
        HelperSpec(87, "map_push_elem", push, (ArgType.CONST_MAP_PTR, ArgType.ANYTHING, ArgType.ANYTHING)),
        HelperSpec(88, "map_pop_elem", take(True), args2),
        HelperSpec(89, "map_peek_elem", take(False), args2),
    ]
