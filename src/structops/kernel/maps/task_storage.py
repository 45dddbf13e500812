"""``BPF_MAP_TYPE_TASK_STORAGE``: per-task local storage keyed by the task itself.

The same local-storage rules as :mod:`structops.kernel.maps.sk_storage` (creation checks,
one allocation per task and map, RCU-deferred frees), keyed by ``struct task_struct``
addresses.  Programs use ``bpf_task_storage_get(map, task, value, flags)`` (helper 156,
``BPF_LOCAL_STORAGE_GET_F_CREATE`` creates) and ``bpf_task_storage_delete(map, task)``
(157).  From user space the key is a pidfd; the embedded kernel has none (``EBADF``).
When a simulated task exits, :func:`free_task_storage` drops its elements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops.kernel.maps.sk_storage import FdKeyedStorageMap, free_local_storage, local_storage_helpers
from structops.uapi import MapType

if TYPE_CHECKING:
    from structops.vm import HelperSpec

__all__ = ["TaskStorageMap", "free_task_storage", "task_storage_helpers"]

_U64 = 0xFFFF_FFFF_FFFF_FFFF
_NO_PIDFD = "task_storage key must be a pidfd (the embedded kernel has no pidfds)"


class TaskStorageMap(FdKeyedStorageMap):
    """``struct bpf_local_storage_map`` for tasks: ``{task address: value allocation}``."""

    TYPE = MapType.BPF_MAP_TYPE_TASK_STORAGE

    NO_FD = _NO_PIDFD


def free_task_storage(kernel: Any, task: int) -> int:
    """``bpf_task_storage_free``: drop ``task``'s storage from every task_storage map; count."""
    return free_local_storage(kernel, TaskStorageMap, task)


def task_storage_helpers(kernel: Any) -> list[HelperSpec]:
    """The VM helpers ``bpf_task_storage_get`` (156) and ``bpf_task_storage_delete`` (157)."""
    return local_storage_helpers(kernel, TaskStorageMap, "bpf_task_storage", 156)
