"""Kernel modules of the embedded kernel: split BTF plus struct_ops types (R1, F5).

A :class:`Module` is what a host application (or a test) supplies to extend the
embedded kernel exactly like a kernel module: a split BTF on top of vmlinux describing
``struct X`` and ``bpf_struct_ops_X``, cfi stubs named in that BTF, and the Python
callbacks of each struct_ops type.  Loading registers the BTF object (visible through
BPF_BTF_GET_NEXT_ID as a kernel BTF), then plugs the module in as a
:class:`~structops.kernel.subsystem.Subsystem` of that BTF (its struct_ops types and
kfuncs, the same path as the built-in subsystems); unloading is refused (-EBUSY) while a
map or program holds the module, and unplugs it otherwise.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.errors import BTFError, bpf_error
from structops.kernel.btf_obj import BtfObject
from structops.kernel.struct_ops import StructOpsOps
from structops.kernel.subsystem import KfuncDef, Subsystem, plug_in, unplug

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["Module", "load_module", "unload_module"]


@dataclass(eq=False)
class Module:
    """A loadable module: ``btf`` is split BTF on top of the kernel's vmlinux BTF.

    ``struct_ops`` and ``kfuncs`` are what it plugs in (``register_bpf_struct_ops`` and
    ``register_btf_kfunc_id_set`` of its module_init), named in its BTF.
    """

    name: str
    btf: bytes
    struct_ops: list[StructOpsOps] = field(default_factory=list)
    kfuncs: list[KfuncDef] = field(default_factory=list)
    #: Called after the BTF is registered (module_init); returns 0 or -errno.
    init: Callable[[EmulatedKernel, BtfObject], int] | None = None
    exit: Callable[[EmulatedKernel], None] | None = None
    refcnt: int = 0
    going: bool = False
    btf_obj: BtfObject | None = None


def load_module(kernel: EmulatedKernel, module: Module) -> None:
    """insmod: parse the split BTF, publish it, plug in its struct_ops types (R1-R3) and kfuncs."""
    if module.name in kernel.modules or module.name in kernel.subsystems:
        raise bpf_error(errno.EEXIST, f"module {module.name} is already loaded")
    try:
        spec = btflib.parse(module.btf, base=kernel.vmlinux.spec)
    except BTFError as exc:
        raise bpf_error(errno.EINVAL, f"module {module.name}: bad BTF: {exc}") from None
    obj = BtfObject(kernel, module.btf, spec, name=module.name, kernel_btf=True, module=module.name)
    kernel.ids["btf"].add(obj)
    module.btf_obj = obj
    kernel.modules[module.name] = module
    # a type failing its checks is logged and the rest of the module still loads
    plug_in(kernel, Subsystem(module.name, struct_ops=module.struct_ops, kfuncs=module.kfuncs, btf=obj), strict=False)
    if module.init is not None:
        err = module.init(kernel, obj)
        if err:
            _drop(kernel, module)
            raise bpf_error(-err, f"module {module.name} init failed")


def _drop(kernel: EmulatedKernel, module: Module) -> None:
    kernel.modules.pop(module.name, None)
    unplug(kernel, module.name)
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
