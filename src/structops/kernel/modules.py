"""Kernel modules of the embedded kernel: split BTF plus struct_ops types (R1, F5).

A :class:`Module` is what a host application (or a test) supplies to extend the
embedded kernel exactly like a kernel module: a split BTF on top of vmlinux describing
``struct X`` and ``bpf_struct_ops_X``, cfi stubs named in that BTF, and the Python
callbacks of each struct_ops type.  Loading registers the BTF object (visible through
BPF_BTF_GET_NEXT_ID as a kernel BTF) and the types; unloading is refused (-EBUSY)
while a map or program holds the module.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.errors import BTFError, bpf_error
from structops.kernel.btf_obj import BtfObject
from structops.kernel.struct_ops import StructOpsOps, register_struct_ops

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["Module", "load_module", "unload_module"]


@dataclass(eq=False)
class Module:
    """A loadable module: ``btf`` is split BTF on top of the kernel's vmlinux BTF."""

    name: str
    btf: bytes
    struct_ops: list[StructOpsOps] = field(default_factory=list)
    #: Called after the BTF is registered (module_init); returns 0 or -errno.
    init: Callable[[EmulatedKernel, BtfObject], int] | None = None
    exit: Callable[[EmulatedKernel], None] | None = None
    refcnt: int = 0
    going: bool = False
    btf_obj: BtfObject | None = None


def load_module(kernel: EmulatedKernel, module: Module) -> None:
    """insmod: parse the split BTF, publish it, register each struct_ops type (R1-R3)."""
    if module.name in kernel.modules:
        raise bpf_error(errno.EEXIST, f"module {module.name} is already loaded")
    try:
        spec = btflib.parse(module.btf, base=kernel.vmlinux.spec)
    except BTFError as exc:
        raise bpf_error(errno.EINVAL, f"module {module.name}: bad BTF: {exc}") from None
    obj = BtfObject(kernel, module.btf, spec, name=module.name, kernel_btf=True, module=module.name)
    kernel.ids["btf"].add(obj)
    module.btf_obj = obj
    kernel.modules[module.name] = module
    for ops in module.struct_ops:
        ops.owner = module.name
        err = register_struct_ops(kernel, obj, ops)
        if err:
            kernel.log(f"module {module.name}: registering struct_ops {ops.name} failed: {err}")
    if module.init is not None:
        err = module.init(kernel, obj)
        if err:
            _drop(kernel, module)
            raise bpf_error(-err, f"module {module.name} init failed")


def _drop(kernel: EmulatedKernel, module: Module) -> None:
    kernel.modules.pop(module.name, None)
    if module.btf_obj is not None:
        kernel.struct_ops_descs.pop(module.btf_obj.id, None)
        module.btf_obj.put()
        module.btf_obj = None


def unload_module(kernel: EmulatedKernel, name: str) -> None:
    """rmmod: -ENOENT if not loaded, -EBUSY while referenced (F5a)."""
    module = kernel.modules.get(name)
    if module is None:
        raise bpf_error(errno.ENOENT, f"module {name} is not loaded")
    if module.refcnt > 0:
        raise bpf_error(errno.EBUSY, f"module {name} is in use ({module.refcnt} references)")
    module.going = True
    if module.exit is not None:
        module.exit(kernel)
    _drop(kernel, module)
