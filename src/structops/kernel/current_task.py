"""``bpf_get_current_task_btf`` (helper 158) of the embedded kernel.

Programs of the embedded kernel run from the kernel's own context (TCP work, test runs),
whose task is the idle task (pid 0, ``swapper/0``, as ``bpf_get_current_pid_tgid`` says).
The helper returns that task: a read-only ``task_struct`` in kernel memory, allocated on
first use, whose ``real_parent``, ``parent`` and ``group_leader`` are itself (as the
kernel's ``init_task``) and whose ``cpus_ptr`` points at its own ``cpus_mask`` (CPU 0).
The verifier types the result as a trusted ``task_struct`` pointer.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.vm.helpers import HelperSpec, RetType

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["install_current_task"]

_SELF_FIELDS = ("real_parent", "parent", "group_leader")


def _idle_task(kernel: EmulatedKernel) -> int:
    spec = kernel.vmlinux.spec
    task = spec.find("task_struct", btflib.Struct)
    offs = {m.name: m.bit_offset // 8 for m in task.members if m.name and not m.bit_offset % 8}
    a = kernel.kmem.alloc(task.size, "task_struct swapper/0", writable=False)
    data = bytearray(task.size)
    for name in _SELF_FIELDS:
        if name in offs:
            struct.pack_into("<Q", data, offs[name], a.addr)
    if "cpus_ptr" in offs and "cpus_mask" in offs:
        struct.pack_into("<Q", data, offs["cpus_ptr"], a.addr + offs["cpus_mask"])
        data[offs["cpus_mask"]] = 1
    if "comm" in offs:
        data[offs["comm"] : offs["comm"] + 9] = b"swapper/0"
    if "nr_cpus_allowed" in offs:
        struct.pack_into("<i", data, offs["nr_cpus_allowed"], 1)
    a.buf[: task.size] = data
    return a.addr


def install_current_task(kernel: EmulatedKernel) -> None:
    """Implement helper 158 on ``kernel`` (the idle task is created on the first call)."""
    cache: list[int] = []

    def current_task_btf(run: Any, *_: int) -> int:
        if not cache:
            cache.append(_idle_task(kernel))
        return cache[0]

    kernel.helpers.implement(
        HelperSpec(158, "get_current_task_btf", current_task_btf, ret=RetType.PTR_TO_BTF_ID_OR_NULL)
    )
