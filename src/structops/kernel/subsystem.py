"""The subsystem plug-in interface of the embedded kernel (one way in for every subsystem).

A subsystem (``bpf_dummy_ops``, ``tcp_congestion_ops``, a module's types, sched_ext)
describes what it adds to the kernel as one :class:`Subsystem` and :func:`plug_in`
installs it in the kernel's order (``__register_bpf_struct_ops`` then
``register_btf_kfunc_id_set``):

* its BTF (vmlinux by default, or a module's BTF object);
* its struct_ops type descriptors (:class:`~structops.kernel.struct_ops.StructOpsOps`:
  cfi stubs, ``check_member``, ``init_member``, reg/unreg/update/validate) with their
  verifier ops (:class:`~structops.verifier.ops.VerifierOps`: helper set per member,
  BTF write rules, pointer promotion, per-member kfunc filter) -- the verifier receives
  these only through the interface it defines;
* its kfuncs (:class:`KfuncDef`: BTF name, implementation, ``KF_*`` flags, the program
  types whose kfunc set lists it) and the kfuncs Linux lists that it does not implement;
* its helper implementations and prototypes, into the kernel's one helper registry;
* a ``setup`` hook for state it keeps (its maps, lists, machine).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops.kernel.struct_ops import StructOpsOps, register_struct_ops
from structops.uapi import ProgType
from structops.verifier.ops import KF
from structops.vm.helpers import HelperSpec

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["STRUCT_OPS_PROGS", "KfuncDef", "Subsystem", "SubsystemError", "plug_in", "unplug"]

#: The kfunc set most subsystems register into (``BPF_PROG_TYPE_STRUCT_OPS``).
STRUCT_OPS_PROGS = frozenset({int(ProgType.BPF_PROG_TYPE_STRUCT_OPS)})


class SubsystemError(RuntimeError):
    """A subsystem could not be plugged in (its registration returned -errno)."""


@dataclass(frozen=True)
class KfuncDef:
    """A kfunc a subsystem implements: its BTF FUNC name, ``fn(*u64 args) -> int``, flags, set."""

    name: str
    fn: Callable[..., int]
    flags: KF = KF.ACQUIRE & 0
    prog_types: frozenset[int] = STRUCT_OPS_PROGS


@dataclass
class Subsystem:
    """Everything one subsystem plugs into the embedded kernel (see the module docstring)."""

    name: str
    struct_ops: Sequence[StructOpsOps] = ()
    kfuncs: Sequence[KfuncDef] = ()
    #: Kfuncs Linux lists for these program types that this kernel does not run (PROG_LOAD
    #: names them instead of calling them "not allowed").
    unimplemented_kfuncs: frozenset[str] = frozenset()
    helpers: Sequence[HelperSpec] = ()
    #: helper id -> (argument kinds, return kind) of :mod:`structops.verifier.ops`.
    helper_protos: Mapping[int, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    btf: BtfObject | None = None
    setup: Callable[[EmulatedKernel], None] | None = None


def plug_in(kernel: EmulatedKernel, sub: Subsystem, *, strict: bool = True) -> None:
    """Install ``sub``: setup, struct_ops types, helper prototypes and implementations, kfuncs.

    The subsystem is recorded in ``kernel.subsystems`` under its name (a second subsystem of
    the same name is refused).  ``strict=False`` (a module's types, as ``load_module``
    does) logs a type that fails registration in the kernel log and goes on with the rest.
    """
    if sub.name in kernel.subsystems:
        raise SubsystemError(f"a subsystem named {sub.name} is already plugged in; unplug it first")
    btf = sub.btf if sub.btf is not None else kernel.vmlinux
    if sub.setup is not None:
        sub.setup(kernel)
    for ops in sub.struct_ops:
        if btf.module is not None:
            ops.owner = btf.module  # maps of this type hold the module (C10a)
        err = register_struct_ops(kernel, btf, ops)
        if not err:
            continue
        if strict:
            raise SubsystemError(f"registering {ops.name} of subsystem {sub.name} failed: {err}")
        kernel.log(f"module {sub.name}: registering struct_ops {ops.name} failed: {err}")
    for hid, (args, ret) in sub.helper_protos.items():
        kernel.helpers.declare(hid, args, ret)
    for spec in sub.helpers:
        if not kernel.helpers.implemented(spec.id):
            kernel.helpers.implement(spec)
    for k in sub.kfuncs:
        kernel.register_kfunc(k.name, k.fn, k.prog_types, None if btf is kernel.vmlinux else btf, int(k.flags))
    kernel.unimplemented_kfuncs.update(sub.unimplemented_kfuncs)
    kernel.subsystems[sub.name] = sub


def unplug(kernel: EmulatedKernel, name: str) -> Subsystem | None:
    """Remove what :func:`plug_in` registered for subsystem ``name`` (its struct_ops types and
    the kfuncs of its own BTF); returns it, None when no such subsystem is plugged in.

    A module unload does this (``unload_module``); built-in subsystems stay for the
    kernel's lifetime.  Helpers stay: the helper table is the kernel's, not a subsystem's.
    """
    sub = kernel.subsystems.pop(name, None)
    if sub is None:
        return None
    btf = sub.btf if sub.btf is not None else kernel.vmlinux
    mine = [id(ops) for ops in sub.struct_ops]
    descs = kernel.struct_ops_descs.get(btf.id, [])
    descs[:] = [d for d in descs if id(d.ops) not in mine]
    if btf is not kernel.vmlinux:
        for key in [key for key, k in kernel.kfuncs.items() if k.btf is btf]:
            del kernel.kfuncs[key]
    return sub
