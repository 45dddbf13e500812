"""``BPF_MAP_TYPE_TASK_STORAGE``: per-task local storage keyed by the task itself.

The same local-storage rules as :mod:`structops.kernel.maps.sk_storage` (creation checks,
one allocation per task and map, RCU-deferred frees), keyed by ``struct task_struct``
addresses.  Programs use ``bpf_task_storage_get(map, task, value, flags)`` (helper 156,
``BPF_LOCAL_STORAGE_GET_F_CREATE`` creates) and ``bpf_task_storage_delete(map, task)``
(157).  From user space the key is a pidfd; the embedded kernel has none (``EBADF``).
When a simulated task exits, :func:`free_task_storage` drops its elements.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error
from structops.kernel.maps.sk_storage import SkStorageMap
from structops.uapi import MapType

if TYPE_CHECKING:
    from structops.vm import HelperSpec

__all__ = ["TaskStorageMap", "free_task_storage", "task_storage_helpers"]

_U64 = 0xFFFF_FFFF_FFFF_FFFF
_NO_PIDFD = "task_storage key must be a pidfd (the embedded kernel has no pidfds)"


class TaskStorageMap(SkStorageMap):
    """``struct bpf_local_storage_map`` for tasks: ``{task address: value allocation}``."""

    TYPE = MapType.BPF_MAP_TYPE_TASK_STORAGE

    def lookup(self, key: bytes) -> bytes:
        """The key is a pidfd: ``EBADF``."""
        raise bpf_error(errno.EBADF, _NO_PIDFD)

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, _NO_PIDFD)

    def delete(self, key: bytes) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, _NO_PIDFD)


def free_task_storage(kernel: Any, task: int) -> int:
    """``bpf_task_storage_free``: drop ``task``'s storage from every task_storage map; count."""
    n = 0
    for obj in list(kernel.ids["map"]):
        if isinstance(obj, TaskStorageMap) and obj.owner_gone(task):
            n += 1
    return n


def task_storage_helpers(kernel: Any) -> list[HelperSpec]:
    """The VM helpers ``bpf_task_storage_get`` (156) and ``bpf_task_storage_delete`` (157)."""
    from structops.vm import ArgType, HelperSpec, RetType

    def storage_map(addr: int) -> TaskStorageMap | None:
        backend = kernel.executor.vm.map_at(addr) if kernel.executor is not None else None
        m = getattr(backend, "m", None)
        return m if isinstance(m, TaskStorageMap) else None

    def get(run: object, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        m = storage_map(r1)
        if m is None:
            return 0
        init = kernel.kmem.space.read(r3, m.value_size) if r3 else None
        return m.storage_get(r2, init, r4)

    def delete(run: object, r1: int, r2: int, *_: int) -> int:
        m = storage_map(r1)
        if m is None:
            return -errno.EINVAL & _U64
        return m.storage_delete(r2) & _U64

    return [
        HelperSpec(
            156,
            "bpf_task_storage_get",
            get,
            (ArgType.CONST_MAP_PTR, ArgType.PTR_TO_BTF_ID, ArgType.ANYTHING, ArgType.ANYTHING),
            RetType.PTR_TO_MAP_VALUE_OR_NULL,
        ),
        HelperSpec(157, "bpf_task_storage_delete", delete, (ArgType.CONST_MAP_PTR, ArgType.PTR_TO_BTF_ID)),
    ]
