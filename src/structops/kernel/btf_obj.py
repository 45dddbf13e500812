"""BTF objects of the embedded kernel: the kernel's own (vmlinux, modules) and user-loaded.

Mirrors ``struct btf`` as a refcounted object with an id (BPF_BTF_GET_NEXT_ID,
BPF_BTF_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD).  ``kernel_btf`` distinguishes vmlinux/module
BTF (C12: such an fd as a map's ``btf_fd`` is -EACCES) from user BTF (BPF_BTF_LOAD).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.errors import BTFError, bpf_error
from structops.kernel.objects import KObject

if TYPE_CHECKING:
    from structops.kernel.services import KernelServices

__all__ = ["BtfObject", "load_user_btf"]


class BtfObject(KObject):
    """A loaded BTF: raw bytes, parsed spec, and whether it belongs to the kernel."""

    KIND = "btf"

    def __init__(
        self,
        kernel: KernelServices,
        raw: bytes,
        spec: btflib.Spec,
        *,
        name: str = "",
        kernel_btf: bool = False,
        module: str | None = None,
    ) -> None:
        super().__init__(kernel)
        self.raw = raw
        self.spec = spec
        self.name = name
        self.kernel_btf = kernel_btf
        self.module = module

    @property
    def is_module(self) -> bool:
        """A module's split BTF (not vmlinux, not user)."""
        return self.kernel_btf and self.module is not None


def load_user_btf(kernel: KernelServices, raw: bytes, log: bytearray | None) -> BtfObject:
    """``BPF_BTF_LOAD``: validate ``raw`` and create a user BTF object (-EINVAL with a log)."""

    def fail(msg: str) -> BpfErrorType:
        if log is not None and len(log) > 0:
            text = (msg + "\n").encode()[: len(log) - 1]
            log[: len(text)] = text
            log[len(text)] = 0
        return bpf_error(errno.EINVAL, msg, op="btf load", log=msg)

    if len(raw) == 0:
        raise fail("btf_size is 0")
    try:
        spec = btflib.parse(raw)
    except BTFError as exc:
        raise fail(str(exc)) from None
    if len(spec.types) <= 1:
        raise fail("No type found")
    _check_lock_structs(spec)
    return BtfObject(kernel, bytes(raw), spec)


#: Structs whose fields ``btf_parse_struct_metas`` looks for at BTF load (the lock kinds).
_LOCKS = ("bpf_spin_lock", "bpf_res_spin_lock")


def _check_lock_structs(spec: btflib.Spec) -> None:
    """``btf_parse_struct_metas``: a struct with a ``bpf_spin_lock`` member may hold only one
    lock (E2BIG) at a 4-byte aligned offset (EFAULT), as measured on Linux 6.18."""
    for t in spec.types:
        if not isinstance(t, btflib.Struct) or t.name in _LOCKS:
            continue
        # only direct members count (measured: a lock in a nested struct or an array is not
        # looked at here, so a struct with one of each loads)
        locks = [
            (m.type.name, m.bit_offset // 8)
            for m in t.members
            if isinstance(m.type, btflib.Struct) and m.type.name in _LOCKS
        ]
        if not locks:
            continue
        if len(locks) > 1:
            raise bpf_error(
                errno.E2BIG,
                f"struct {t.name} holds {len(locks)} bpf_spin_lock fields; a struct may hold only one",
                op="btf load",
            )
        for name, off in locks:
            if off % 4:
                raise bpf_error(
                    errno.EFAULT,
                    f"struct {t.name}: its {name} is at offset {off}; place it at a multiple of 4 bytes",
                    op="btf load",
                )


BpfErrorType = OSError
