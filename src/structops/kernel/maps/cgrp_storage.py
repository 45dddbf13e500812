"""``BPF_MAP_TYPE_CGRP_STORAGE``: per-cgroup local storage keyed by the cgroup itself.

The local-storage rules of :mod:`structops.kernel.maps.sk_storage` (creation checks, one
allocation per cgroup and map, RCU-deferred frees), keyed by ``struct cgroup`` addresses.
Programs use ``bpf_cgrp_storage_get(map, cgrp, value, flags)`` (helper 210,
``BPF_LOCAL_STORAGE_GET_F_CREATE`` creates) and ``bpf_cgrp_storage_delete(map, cgrp)``
(211).  From user space the key is a cgroup fd; the embedded kernel has none (``EBADF``).
When a simulated cgroup goes away, :func:`free_cgrp_storage` drops its elements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops.kernel.maps.sk_storage import FdKeyedStorageMap, free_local_storage, local_storage_helpers
from structops.uapi import MapType

if TYPE_CHECKING:
    from structops.vm import HelperSpec

__all__ = ["CgrpStorageMap", "cgrp_storage_helpers", "free_cgrp_storage"]

_NO_CGROUP_FD = "cgrp_storage key must be a cgroup fd (the embedded kernel has no cgroupfs)"


class CgrpStorageMap(FdKeyedStorageMap):
    """``struct bpf_local_storage_map`` for cgroups: ``{cgroup address: value allocation}``."""

    TYPE = MapType.BPF_MAP_TYPE_CGRP_STORAGE

    NO_FD = _NO_CGROUP_FD


def free_cgrp_storage(kernel: Any, cgrp: int) -> int:
    """``bpf_cgrp_storage_free``: drop ``cgrp``'s storage from every cgrp_storage map; count."""
    return free_local_storage(kernel, CgrpStorageMap, cgrp)


def cgrp_storage_helpers(kernel: Any) -> list[HelperSpec]:
    """The VM helpers ``bpf_cgrp_storage_get`` (210) and ``bpf_cgrp_storage_delete`` (211)."""
    return local_storage_helpers(kernel, CgrpStorageMap, "bpf_cgrp_storage", 210)
