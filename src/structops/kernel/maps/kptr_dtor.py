"""Referenced kptrs left in a map value when the value is freed (``bpf_obj_free_fields``).

A value holding a referenced ``__kptr`` owns that reference: when the element is deleted,
its owner (task, socket, cgroup) goes away or the map is freed, Linux exchanges each kptr
field with NULL and calls the destructor registered for the pointee type (for
``struct bpf_cpumask``: ``bpf_cpumask_release``).  Kfunc providers register destructors
by struct name with :func:`register_dtor`; :func:`release_kptr_fields` runs them for one
value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

__all__ = ["register_dtor", "release_kptr_fields", "zero_kptr_fields"]


def _dtors(kernel: Any) -> dict[str, Callable[[int], object]]:
    table = kernel.__dict__.get("kptr_dtors")
    if table is None:
        table = kernel.__dict__["kptr_dtors"] = {}
    return table  # type: ignore[no-any-return]


def register_dtor(kernel: Any, struct_name: str, dtor: Callable[[int], object]) -> None:
    """Destructor of referenced kptrs to ``struct struct_name`` (called with the pointer)."""
    _dtors(kernel)[struct_name] = dtor


def release_kptr_fields(kernel: Any, m: Any, value_addr: int) -> int:
    """Clear every referenced kptr field of ``m``'s value at ``value_addr`` and release what
    it held; the number of references dropped."""
    from structops.verifier.kptr import kptr_fields

    fields = kptr_fields(m)
    if not fields or not value_addr:
        return 0
    space = kernel.kmem.space
    table = _dtors(kernel)
    n = 0
    for off, name in fields.items():
        (ptr,) = struct.unpack("<Q", space.read(value_addr + off, 8))
        if not ptr:
            continue
        space.write(value_addr + off, bytes(8))
        dtor = table.get(name) or _local_dtor(kernel)
        if dtor is not None:
            dtor(ptr)
            n += 1
    return n


def zero_kptr_fields(m: Any, buf: bytearray, base: int = 0) -> None:
    """``copy_map_value`` never copies special fields: a value written from user space or by
    an update keeps NULL in its kptr slots (callers pass the bytes being stored)."""
    from structops.verifier.kptr import kptr_fields

    for off in kptr_fields(m):
        buf[base + off : base + off + 8] = bytes(8)


def _local_dtor(kernel: Any) -> Callable[[int], object] | None:
    """Objects of ``bpf_obj_new`` (a kptr to a program-BTF type) are dropped."""
    rt = kernel.__dict__.get("graph_runtime")
    if rt is None:
        return None
    return lambda p: rt.obj_drop(None, p)
