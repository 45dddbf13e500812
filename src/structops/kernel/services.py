"""Kernel services: the small interface kernel objects use instead of the whole kernel.

A map, program, link or BTF object needs only a few things from the kernel it lives in:
an id table per kind (the idr, F3), RCU to defer frees (F3 step 4), kernel memory for
what programs may address, the kernel log, and the calling process (its fd table and
capabilities).  :class:`KernelServices` names exactly that; the struct_ops core needs a
little more (its type registry, trampoline pages charged to the JIT limit, the
``update_mutex`` serialising reg/unreg/update), named by :class:`StructOpsServices`.

:class:`structops.kernel.emulated.EmulatedKernel` provides both; kernel objects are
handed one when they are made and never import the emulated kernel, so
``structops.kernel.emulated`` sits at the top of the kernel package's import graph.

The capability numbers (``include/uapi/linux/capability.h``) live here too: the syscall
layer and program load check them against :meth:`ProcessServices.capable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.kmem import KernelMemory
    from structops.kernel.maps.base import BpfMap
    from structops.kernel.objects import File, IdTable
    from structops.kernel.prog import BpfProg
    from structops.kernel.rcu import Rcu
    from structops.kernel.struct_ops.registry import FuncModel, StructOpsDesc
    from structops.kernel.struct_ops.trampoline import Trampoline

__all__ = [
    "ALL_CAPS",
    "CAP_BPF",
    "CAP_NET_ADMIN",
    "CAP_PERFMON",
    "CAP_SYS_ADMIN",
    "ExecutorServices",
    "KernelServices",
    "ProcessServices",
    "StructOpsServices",
    "UserCopy",
]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
ALL_CAPS = frozenset({CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF})


class UserCopy(Protocol):
    """A process's user memory as the kernel reaches it: ``copy_from_user`` / ``copy_to_user``."""

    def copy_from(self, addr: int, size: int) -> bytes:
        """copy_from_user (-EFAULT outside the process's memory)."""
        ...

    def copy_to(self, addr: int, data: bytes) -> None:
        """copy_to_user (-EFAULT outside the process's memory)."""
        ...


class ProcessServices(Protocol):
    """The process making the current syscall, as kernel objects see it (fds, capabilities)."""

    @property
    def umem(self) -> UserCopy:
        """The process's user memory."""
        ...

    def capable(self, cap: int) -> bool:
        """``capable(cap)``."""
        ...

    def bpf_capable(self) -> bool:
        """``bpf_capable()``."""
        ...

    def get_prog(self, fd: int) -> BpfProg:
        """``bpf_prog_get``: the program behind ``fd`` with a new reference (-EBADF / -EINVAL)."""
        ...

    def get_map(self, fd: int) -> tuple[BpfMap, File]:
        """``__bpf_map_get``: the map behind ``fd`` and its file, without a new reference."""
        ...


class KernelServices(Protocol):
    """What every kernel object may ask of its kernel: ids, RCU, kernel memory, log, caller."""

    @property
    def ids(self) -> Mapping[str, IdTable]:
        """One id table per object kind (``"map"``, ``"prog"``, ``"link"``, ``"btf"``)."""
        ...

    @property
    def rcu(self) -> Rcu:
        """Grace periods: ``call_rcu`` for deferred frees, ``read_lock`` around program runs."""
        ...

    @property
    def kmem(self) -> KernelMemory:
        """Kernel memory: the allocations programs may address."""
        ...

    def log(self, message: str) -> None:
        """The kernel log (pr_warn / pr_err lines)."""
        ...

    def current_process(self) -> ProcessServices:
        """The process executing the current syscall on this thread."""
        ...


class StructOpsServices(KernelServices, Protocol):
    """What the struct_ops core needs besides :class:`KernelServices` (R*, U9j, M1, M2, K*)."""

    #: Registered struct_ops types by the id of the BTF they live in (R1).
    struct_ops_descs: dict[int, list[StructOpsDesc]]
    #: Installed trampolines by entry address.
    trampolines: dict[int, Trampoline]
    #: The kernel's own BTF (``bpf_struct_ops_common_value`` lives there, R3.6).
    vmlinux: BtfObject
    #: CONFIG_MODULES (``struct module *`` members are unsupported without it, R3.8).
    config_modules: bool
    #: ``sizeof(struct bpf_struct_ops_map)`` and ``sizeof(struct bpf_struct_ops_value)`` (M1).
    sizeof_st_map: int
    sizeof_st_value: int
    #: Bytes one trampoline takes in an image page (U9j).
    trampoline_size: Callable[[FuncModel, bool], int]

    @property
    def update_mutex(self) -> AbstractContextManager[Any]:
        """``update_mutex``: serialises reg / unreg / update of struct_ops links (K5, KU2)."""
        ...

    def alloc_tramp_page(self) -> int:
        """Allocate one image page, charged to the JIT limit (M2)."""
        ...

    def free_tramp_page(self, page: int) -> None:
        """Free an image page (uncharge)."""
        ...

    def run_trampoline(self, tr: Trampoline, args: Sequence[int]) -> int:
        """Enter a trampoline: run its program with ``args`` under RCU."""
        ...

    def module_put(self, name: str) -> None:
        """Drop a module reference (F3)."""
        ...


class ExecutorServices(KernelServices, Protocol):
    """What the VM executor needs besides :class:`KernelServices`: CONFIG_HZ and the trace log."""

    #: CONFIG_HZ (``bpf_jiffies64``).
    config_hz: int
    #: Where ``bpf_trace_printk`` lines go.
    trace_log: list[str]
