"""The struct_ops type registry: what a subsystem registers and how it is checked (R1-R6).

``register_struct_ops`` is ``__register_bpf_struct_ops`` of ``kernel/bpf/bpf_struct_ops.c``:
it validates a subsystem's :class:`StructOpsOps` against the BTF it lives in and adds a
:class:`StructOpsDesc` to that BTF's table; ``find_desc`` / ``find_desc_by_value`` are
``bpf_struct_ops_find`` / ``bpf_struct_ops_find_value``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.uapi import BPF_STRUCT_OPS_MAX_NR_MEMBERS, MAX_BPF_FUNC_ARGS
from structops.verifier.ops import VerifierOps  # struct bpf_verifier_ops: declared by the verifier

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.prog import BpfProg
    from structops.kernel.services import StructOpsServices
    from structops.kernel.struct_ops.kdata import KData
    from structops.kernel.struct_ops.link import StructOpsLink

__all__ = [
    "BPF_MODULE_OWNER",
    "VALUE_PREFIX",
    "CtxArg",
    "FuncModel",
    "StructOpsDesc",
    "StructOpsOps",
    "VerifierOps",
    "find_desc",
    "find_desc_by_value",
    "register_struct_ops",
]

#: ``BPF_MODULE_OWNER`` sentinel written into ``struct module *`` members of kdata (1.8).
BPF_MODULE_OWNER = (0xEB9F << 2) + 0xDEAD000000000000
#: Prefix of value type names (R3.1).
VALUE_PREFIX = "bpf_struct_ops_"


@dataclass(frozen=True)
class CtxArg:
    """A ``bpf_ctx_arg_aux`` entry: an argument slot with a non-default pointer type (R4)."""

    offset: int
    btf_id: int
    nullable: bool
    refcounted: bool


def _init_nothing(spec: btflib.Spec) -> int:
    """The default ``init`` callback: a subsystem with nothing to set up at registration."""
    return 0


@dataclass
class StructOpsOps:
    """``struct bpf_struct_ops`` supplied by a subsystem or module (R1-R4, 2.1).

    ``cfi_stubs`` maps member name -> the name of a FUNC in the same BTF whose
    parameter names carry ``__nullable`` / ``__ref`` (R4); a function member missing
    from it (or mapped to None) is unsupported (R3.8d).  Callbacks use the kernel's
    convention: return 0 or a negative errno (``init_member``: 1 = handled).
    """

    name: str
    cfi_stubs: dict[str, str | None] | None
    init_member: Callable[[btflib.Struct, btflib.Member, KData, bytes], int]
    reg: Callable[[KData, StructOpsLink | None], int]
    unreg: Callable[[KData, StructOpsLink | None], None]
    verifier_ops: VerifierOps = field(default_factory=VerifierOps)
    init: Callable[[btflib.Spec], int] = _init_nothing
    check_member: Callable[[btflib.Struct, btflib.Member, BpfProg], int] | None = None
    validate: Callable[[KData], int] | None = None
    update: Callable[[KData, KData, StructOpsLink], int] | None = None
    owner: str | None = None


@dataclass
class FuncModel:
    """``struct btf_func_model``: what the trampoline needs to know about an op."""

    nr_args: int
    ret_size: int
    arg_sizes: tuple[int, ...]


@dataclass
class StructOpsDesc:
    """``struct bpf_struct_ops_desc``: a registered struct_ops type in one BTF."""

    ops: StructOpsOps
    btf: BtfObject
    type: btflib.Struct
    type_id: int
    value_type: btflib.Struct
    value_id: int
    arg_info: list[tuple[CtxArg, ...]]
    func_models: dict[int, FuncModel]
    func_members: list[int]

    @property
    def name(self) -> str:
        """The struct name (``tcp_congestion_ops``)."""
        return self.ops.name

    def member_supported(self, index: int) -> bool:
        """``bpf_struct_ops_supported``: a function member with a non-NULL cfi stub."""
        return index in self.func_models


def _pointee(t: btflib.Type) -> btflib.Type | None:
    """What a pointer type (through typedefs and modifiers) points to, modifiers stripped."""
    u = btflib.underlying(t)
    return btflib.underlying(u.target) if isinstance(u, btflib.Pointer) else None


def func_proto_of(t: btflib.Type) -> btflib.FuncProto | None:
    """The prototype of a function-pointer member, None for any other type."""
    target = _pointee(t)
    return target if isinstance(target, btflib.FuncProto) else None


def is_module_ptr(t: btflib.Type) -> bool:
    """A ``struct module *`` member (filled with BPF_MODULE_OWNER, U9a)."""
    target = _pointee(t)
    return isinstance(target, btflib.Struct | btflib.Fwd) and target.name == "module"


def _ptr_struct(t: btflib.Type) -> btflib.Struct | None:
    target = _pointee(t)
    return target if isinstance(target, btflib.Struct) else None


def _param_suffix(name: str, suffix: str) -> bool:
    """``btf_param_match_suffix``: non-empty, strictly longer than the suffix, ends with it (R4)."""
    return len(name) > len(suffix) and name.endswith(suffix)


def _arg_size(t: btflib.Type) -> int:
    try:
        return btflib.sizeof(t)
    except Exception:
        return 8


def _distill(proto: btflib.FuncProto) -> FuncModel | int:
    """``btf_distill_func_proto``: -EINVAL for >12 args or args that are not scalars/pointers."""
    if len(proto.params) > MAX_BPF_FUNC_ARGS:
        return -errno.EINVAL
    sizes = []
    for p in proto.params:
        u = btflib.underlying(p.type)
        if isinstance(u, btflib.Void) or p.type is None:
            return -errno.EINVAL
        if isinstance(u, btflib.Struct | btflib.Union) and btflib.sizeof(u) > 16:
            return -errno.EINVAL
        sizes.append(_arg_size(u))
    ret = btflib.underlying(proto.return_type)
    ret_size = 0 if isinstance(ret, btflib.Void) else _arg_size(ret)
    return FuncModel(len(proto.params), ret_size, tuple(sizes))


def _prepare_arg_info(spec: btflib.Spec, proto: btflib.FuncProto, stub_name: str) -> tuple[CtxArg, ...] | int:
    """R4: find ``__nullable`` / ``__ref`` parameters of the cfi stub."""
    try:
        stub = spec.find(stub_name, btflib.Func)
    except KeyError:
        return -errno.ENOENT
    stub_proto = stub.type
    if len(stub_proto.params) != len(proto.params):
        return -errno.EINVAL
    out: list[CtxArg] = []
    offset = 0
    for sp, mp in zip(stub_proto.params, proto.params, strict=True):
        nullable = _param_suffix(sp.name, "__nullable")
        ref = not nullable and _param_suffix(sp.name, "__ref")
        if nullable or ref:
            target = _ptr_struct(mp.type)
            if target is None:
                return -errno.EINVAL
            if spec.type_id(mp.type) != spec.type_id(sp.type):
                return -errno.EINVAL
            out.append(CtxArg(offset, spec.type_id(target), nullable, ref))
        offset += (_arg_size(mp.type) + 7) // 8 * 8
    return tuple(out)


def register_struct_ops(kernel: StructOpsServices, btf: BtfObject, ops: StructOpsOps) -> int:
    """``__register_bpf_struct_ops``: validate and add ``ops`` to ``btf``'s table (R1-R3).

    Returns 0 or a negative errno, like the kernel.  The desc lands in
    ``kernel.struct_ops_descs[btf.id]``.
    """
    table = kernel.struct_ops_descs.setdefault(btf.id, [])
    if any(d.ops is ops for d in table):
        return -errno.EEXIST  # R2
    spec = btf.spec
    log = kernel.log
    if len(ops.name) + len(VALUE_PREFIX) >= 128:  # R3.1
        log(f"struct_ops name {ops.name} is too long")
        return -errno.EINVAL
    if ops.cfi_stubs is None:  # R3.2
        log(f"struct_ops for {ops.name} has no cfi_stubs")
        return -errno.EINVAL
    try:
        t = spec.find(ops.name, btflib.Struct)  # R3.3
    except KeyError:
        log(f"struct_ops type {ops.name} is not found")
        return -errno.EINVAL
    if len(t.members) > BPF_STRUCT_OPS_MAX_NR_MEMBERS:  # R3.4
        log(f"Cannot support #{len(t.members)} members")
        return -errno.EINVAL
    try:
        vt = spec.find(VALUE_PREFIX + ops.name, btflib.Struct)  # R3.5
    except KeyError:
        log(f"value type {VALUE_PREFIX}{ops.name} is not found")
        return -errno.EINVAL
    common = kernel.vmlinux.spec.find("bpf_struct_ops_common_value", btflib.Struct)
    if (  # R3.6
        len(vt.members) != 2
        or btflib.underlying(vt.members[0].type) is not common
        or btflib.underlying(vt.members[1].type) is not t
    ):
        log(f"value type {vt.name} is invalid")
        return -errno.EINVAL
    arg_info: list[tuple[CtxArg, ...]] = []
    models: dict[int, FuncModel] = {}
    func_members: list[int] = []
    for i, m in enumerate(t.members):  # R3.8
        arg_info.append(())
        if not m.name:
            return -errno.EOPNOTSUPP
        if m.bitfield_size:
            return -errno.EOPNOTSUPP
        if is_module_ptr(m.type) and not kernel.config_modules:
            return -errno.EOPNOTSUPP
        proto = func_proto_of(m.type)
        if proto is not None:
            func_members.append(i)
        stub = ops.cfi_stubs.get(m.name)
        if proto is None or stub is None:
            continue
        ret = btflib.underlying(proto.return_type)
        if isinstance(ret, btflib.Pointer) and _ptr_struct(ret) is None:
            return -errno.EOPNOTSUPP  # R3.8e
        model = _distill(proto)
        if isinstance(model, int):
            return model
        info = _prepare_arg_info(spec, proto, stub)
        if isinstance(info, int):
            return info
        models[i] = model
        arg_info[i] = info
    if ops.init(spec) != 0:  # R3.9
        log(f"Error in init bpf_struct_ops {ops.name}")
        return -errno.EINVAL
    table.append(
        StructOpsDesc(
            ops=ops,
            btf=btf,
            type=t,
            type_id=spec.type_id(t),
            value_type=vt,
            value_id=spec.type_id(vt),
            arg_info=arg_info,
            func_models=models,
            func_members=func_members,
        )
    )
    return 0


def find_desc_by_value(kernel: StructOpsServices, btf: BtfObject, value_id: int) -> StructOpsDesc | None:
    """``bpf_struct_ops_find_value`` (R5)."""
    return _find(kernel, btf, lambda d: d.value_id == value_id) if value_id else None


def find_desc(kernel: StructOpsServices, btf: BtfObject, type_id: int) -> StructOpsDesc | None:
    """``bpf_struct_ops_find`` (R5)."""
    return _find(kernel, btf, lambda d: d.type_id == type_id) if type_id else None


def _find(kernel: StructOpsServices, btf: BtfObject, match: Callable[[StructOpsDesc], bool]) -> StructOpsDesc | None:
    return next((d for d in kernel.struct_ops_descs.get(btf.id, []) if match(d)), None)
