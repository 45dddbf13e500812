"""The load phase: a :class:`CollectionSpec` becomes kernel objects on any ``Kernel``.

What libbpf's ``bpf_object__load`` does for struct_ops objects (selftests report Part B),
in its order:

1. load the object's BTF (BTF_LOAD; struct_ops maps need a user BTF fd, C12);
2. create the maps: global data and ``.maps`` maps, and each struct_ops map with the
   kernel's ``bpf_struct_ops_<name>`` value type found in vmlinux first, then in module
   BTFs (``BPF_F_VTYPE_BTF_OBJ_FD``), ``BPF_F_LINK`` for ``.struct_ops.link``;
3. resolve each struct_ops program's attach target from the maps that reference it:
   ``attach_btf_id`` = kernel id of ``struct <name>``, ``expected_attach_type`` = the
   member's index in the *kernel* type (libbpf: "invalid reuse of prog" when two
   members need different targets; "unreferenced struct_ops program" when none does);
4. relocate and load the programs (map fds, global data, kfunc BTF ids);
5. build each struct_ops map's kernel value from the shadow value: members matched by
   name, data members copied at the kernel offsets, zero members missing in the kernel
   skipped, non-zero ones an error; function members get the program fds.  Like libbpf,
   the MAP_UPDATE_ELEM that registers (non-link) or readies (link) the map happens at
   attach time (:func:`register_struct_ops`), so objects whose type can never be
   registered (``bpf_dummy_ops``) still load for test_run.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from structops import btf as btflib
from structops.abi.attrs import BtfLoadAttr, MapCreateAttr, MapElemAttr, MapFreezeAttr, ProgLoadAttr
from structops.abi.consts import (
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    ENOTSUPP,
    Cmd,
    MapFlags,
    MapType,
    ProgLoadFlags,
    ProgType,
)
from structops.abi.protocol import Kernel
from structops.errors import BpfError
from structops.loader._progload import (
    FUNC_INFO_SIZE,
    LINE_INFO_SIZE,
    encode_func_info,
    encode_line_info,
    load_program,
)
from structops.loader.arena import arena_data_offset, map_arena
from structops.loader.externs import (
    POISON_CALL_KFUNC_BASE,
    LoadError,
    kconfig_contents,
    kernel_config,
    kernel_symbols,
    relocate_ksym,
)
from structops.loader.spec import CollectionSpec, MapKind, MapSpec, ProgramSpec, RelocKind, essential_name

__all__ = [
    "POISON_CALL_KFUNC_BASE",
    "KernelTypes",
    "LoadError",
    "LoadedObjects",
    "kernel_config",
    "load_objects",
    "register_struct_ops",
]

VALUE_PREFIX = "bpf_struct_ops_"


@dataclass
class KernelTypes:
    """The target kernel's BTF: vmlinux plus module BTFs (name -> (spec, btf id))."""

    vmlinux: btflib.Spec
    modules: dict[str, btflib.Spec] = field(default_factory=dict)
    kernel: Kernel | None = None
    _symbols: dict[str, int | None] | None = None

    def symbols(self) -> dict[str, int | None]:
        """The kernel's symbol table (kallsyms), read once and only when an extern needs it."""
        if self._symbols is None:
            self._symbols = kernel_symbols(self.kernel) if self.kernel is not None else {}
        return self._symbols

    @classmethod
    def of(cls, kernel: Kernel) -> KernelTypes:
        """Read and parse the kernel's BTF (vmlinux then modules)."""
        vml = btflib.parse(kernel.vmlinux_btf())
        mods: dict[str, btflib.Spec] = {}
        for name, raw in kernel.module_btfs().items():
            try:
                mods[name] = btflib.parse(raw, base=vml)
            except Exception:  # a module BTF we cannot read is skipped, like libbpf does
                continue
        return cls(vml, mods, kernel)

    def find_struct_ops(self, name: str) -> tuple[btflib.Spec, str | None, btflib.Struct, btflib.Struct]:
        """(spec, module or None, struct <name>, struct bpf_struct_ops_<name>): vmlinux first."""
        for spec, module in [(self.vmlinux, None), *[(s, m) for m, s in self.modules.items()]]:
            try:
                vt = spec.find(VALUE_PREFIX + name, btflib.Struct)
                t = spec.find(name, btflib.Struct)
            except KeyError:
                continue
            return spec, module, t, vt
        raise LoadError(f"struct_ops init_kern: struct {VALUE_PREFIX}{name} is not found in kernel BTF")


@dataclass
class LoadedObjects:
    """fds created by :func:`load_objects` (map name -> fd, program name -> fd)."""

    btf_fd: int = 0
    maps: dict[str, int] = field(default_factory=dict)
    programs: dict[str, int] = field(default_factory=dict)
    #: struct_ops map name -> the kernel value it was updated with.
    struct_ops_values: dict[str, bytes] = field(default_factory=dict)
    #: program name -> verifier log (when one was requested).
    logs: dict[str, str] = field(default_factory=dict)
    #: Whether ``btf_fd`` holds the object's own BTF (else a minimal stand-in).
    btf_is_object: bool = False
    #: Other fds held for the objects (module BTF fds).
    extra_fds: list[int] = field(default_factory=list)
    #: User mappings of arena maps (map name -> mapping).
    mappings: dict[str, Any] = field(default_factory=dict)
    #: The arena map's fd and where the ``__arena`` globals start in it (None: no arena).
    arena: tuple[int, int] | None = None

    def fds(self) -> list[int]:
        """Every fd, programs last (close order: maps keep programs alive anyway)."""
        out = [self.btf_fd] if self.btf_fd else []
        return out + self.extra_fds + list(self.maps.values()) + list(self.programs.values())


# A minimal user BTF: one INT "int" (map_create for struct_ops needs *some* user BTF, C12).
_MIN_BTF = (
    struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 16, 16, 5)
    + struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)
    + b"\0int\0"
)


def _struct_ops_targets(
    spec: CollectionSpec, ktypes: KernelTypes, maps_to_create: list[MapSpec]
) -> dict[str, tuple[btflib.Spec, str | None, int, int, str]]:
    """prog name -> (kernel spec, module, attach_btf_id, member index, map name) (libbpf rules)."""
    targets: dict[str, tuple[btflib.Spec, str | None, int, int, str]] = {}
    for m in maps_to_create:
        so = m.struct_ops
        if so is None:
            continue
        kname = essential_name(so.type_name)
        kspec, module, kt, _vt = ktypes.find_struct_ops(kname)
        names = [mem.name for mem in kt.members]
        for member, prog_name in so.funcs.items():
            if member not in names:
                raise LoadError(f"struct_ops init_kern {m.name}: member {member} not found in kernel BTF")
            idx = names.index(member)
            type_id = kspec.type_id(kt)
            prev = targets.get(prog_name)
            if prev is not None and (prev[2], prev[3]) != (type_id, idx):
                raise LoadError(
                    f"struct_ops reloc {m.name}: cannot use prog {prog_name} in {member}: "
                    f"invalid reuse of prog (already used by {prev[4]})"
                )
            targets[prog_name] = (kspec, module, type_id, idx, m.name)
    return targets


def _relocate(
    p: ProgramSpec,
    maps: dict[str, int],
    spec: CollectionSpec,
    ktypes: KernelTypes,
    arena: tuple[int, int] | None = None,
) -> bytes:
    code = bytearray(p.instructions)
    if p.core_relos and spec.btf is not None:  # CO-RE against the target kernel's BTF
        from structops.loader.core import apply_core

        modules = list(ktypes.modules.values())
        code = bytearray(apply_core(p.name, p.instructions, p.core_relos, spec.btf, ktypes.vmlinux, modules))
    for r in p.relocations:
        off = r.insn * 8
        if r.kind in (RelocKind.MAP, RelocKind.MAP_VALUE):
            target = spec.map_by_name(r.target)
            fd = maps.get(target.real_name) if target.real_name in maps else maps.get(r.target)
            if fd is None:
                raise LoadError(f"prog '{p.name}': map '{r.target}' was not created (autocreate off?)")
            src = BPF_PSEUDO_MAP_FD if r.kind is RelocKind.MAP else BPF_PSEUDO_MAP_VALUE
            code[off + 1] = (code[off + 1] & 0x0F) | (src << 4)
            struct.pack_into("<i", code, off + 4, fd)
            if r.kind is RelocKind.MAP_VALUE:
                struct.pack_into("<i", code, off + 12, r.offset)
        elif r.kind is RelocKind.ARENA:  # libbpf RELO_DATA against the arena map
            if arena is None:
                raise LoadError(f"prog '{p.name}': the arena map of its __arena globals was not created")
            code[off + 1] = (code[off + 1] & 0x0F) | (BPF_PSEUDO_MAP_VALUE << 4)
            struct.pack_into("<i", code, off + 4, arena[0])
            struct.pack_into("<I", code, off + 12, (arena[1] + r.offset) & 0xFFFF_FFFF)
        elif r.kind in (RelocKind.KFUNC, RelocKind.KSYM):
            relocate_ksym(p, code, off, r.kind, r.target, spec, ktypes.vmlinux, ktypes.symbols)
    return bytes(code)


def _kernel_value(
    m: MapSpec, spec: CollectionSpec, ktypes: KernelTypes, prog_fds: dict[str, int]
) -> tuple[bytes, int, str | None]:
    """The struct_ops map's kernel value (libbpf init_kern rules); also value type id and module."""
    so = m.struct_ops
    assert so is not None
    kname = essential_name(so.type_name)
    kspec, module, kt, vt = ktypes.find_struct_ops(kname)
    if spec.btf is None:
        raise LoadError(f"struct_ops map {m.name}: object has no BTF")
    local = btflib.underlying(spec.btf.type_by_id(so.type_id))
    if not isinstance(local, btflib.Struct):
        raise LoadError(f"struct_ops map {m.name}: local type is not a struct")
    if len(so.data) < local.size:
        raise LoadError(f"struct_ops map {m.name}: shadow value has {len(so.data)} bytes, type needs {local.size}")
    value = bytearray(vt.size)
    data_off = vt.member("data").offset
    kmembers = {mem.name: mem for mem in kt.members}
    for lm in local.members:
        loff = lm.offset
        lsize = btflib.sizeof(lm.type)
        raw = so.data[loff : loff + lsize]
        km = kmembers.get(lm.name)
        is_func = btflib.is_func_pointer(lm.type)
        if km is None:
            if lm.name in so.funcs or any(raw):
                raise LoadError(
                    f"struct_ops init_kern {m.name}: Cannot find member {lm.name} in kernel BTF "
                    f"(member {lm.name} not found in kernel BTF)"
                )
            continue  # zero member missing in the kernel: skipped ("skipping it as it's set to zero")
        if lm.bitfield_size or km.bitfield_size:
            raise LoadError(f"struct_ops init_kern {m.name}: bitfield member {lm.name} is not supported")
        lkind = type(btflib.underlying(lm.type))
        kkind = type(btflib.underlying(km.type))
        if lkind is not kkind:
            raise LoadError(f"struct_ops init_kern {m.name}: Unmatched member type {lm.name}")
        koff = data_off + km.offset
        if is_func:
            if not btflib.is_func_pointer(km.type):
                raise LoadError(f"struct_ops init_kern {m.name}: kernel member {lm.name} is not a func ptr")
            prog_name = so.funcs.get(lm.name)
            if prog_name is not None:
                fd = prog_fds.get(prog_name)
                if fd is None:
                    raise LoadError(f"struct_ops init_kern {m.name}: prog {prog_name} is not loaded (autoload off?)")
                struct.pack_into("<Q", value, koff, fd)
            continue
        ksize = btflib.sizeof(km.type)
        if ksize != lsize:
            raise LoadError(
                f"struct_ops init_kern {m.name}: Error in size of member {lm.name}: local {lsize} kernel {ksize}"
            )
        value[koff : koff + ksize] = raw
    return bytes(value), kspec.type_id(vt), module


def load_objects(
    spec: CollectionSpec,
    kernel: Kernel,
    *,
    log_level: int = 0,
    skip_maps: frozenset[str] = frozenset(),
    skip_programs: frozenset[str] = frozenset(),
    map_hook: Callable[[MapSpec, int], None] | None = None,
) -> LoadedObjects:
    """Create every map and program of ``spec`` on ``kernel`` (struct_ops maps stay INIT).

    On failure every fd created so far is closed and the error propagates.
    """
    ktypes = KernelTypes.of(kernel)
    out = LoadedObjects()
    try:
        _load(spec, kernel, ktypes, out, log_level, skip_maps, skip_programs, map_hook)
    except BaseException:
        for fd in reversed(out.fds()):
            with contextlib.suppress(OSError):
                kernel.close(fd)
        raise
    return out


def _load(
    spec: CollectionSpec,
    kernel: Kernel,
    ktypes: KernelTypes,
    out: LoadedObjects,
    log_level: int,
    skip_maps: frozenset[str],
    skip_programs: frozenset[str],
    map_hook: Callable[[MapSpec, int], None] | None,
) -> None:
    maps_to_create = [m for name, m in spec.maps.items() if m.autocreate and name not in skip_maps]
    created = {id(m) for m in maps_to_create}
    # libbpf's bpf_object_adjust_struct_ops_autoload: a struct_ops program referenced by
    # any struct_ops map loads iff one of those maps is created (B.4 "Autoload sync").
    referenced: dict[str, bool] = {}
    for m in spec.maps.values():
        if m.struct_ops is not None:
            for prog_name in m.struct_ops.funcs.values():
                referenced[prog_name] = referenced.get(prog_name, False) or id(m) in created
    progs_to_load = {n: p for n, p in spec.programs.items() if n not in skip_programs and referenced.get(n, p.autoload)}
    targets = _struct_ops_targets(spec, ktypes, maps_to_create)
    for name, p in progs_to_load.items():
        if p.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS and name not in targets:
            raise LoadError(
                f"prog '{name}': SEC(\"struct_ops\") program isn't referenced anywhere, did you forget to use it? "
                "(unreferenced struct_ops program)"
            )
    # 1. BTF
    try:
        out.btf_fd = kernel.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=spec.btf_raw or _MIN_BTF))
        out.btf_is_object = bool(spec.btf_raw)
    except BpfError:
        out.btf_fd = kernel.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=_MIN_BTF))
    # 2. maps (struct_ops maps after programs, see below)
    for m in maps_to_create:
        if m.struct_ops is not None:
            continue
        fd = _create_map(kernel, m, out)
        out.maps[m.real_name] = fd
        if m.init_slots and m.type != MapType.BPF_MAP_TYPE_PROG_ARRAY:
            _init_map_in_map_slots(kernel, m, fd, out)
        contents = m.contents
        if m.kind is MapKind.KCONFIG:
            contents = kconfig_contents(spec, m, kernel)
        if contents is not None and m.type == MapType.BPF_MAP_TYPE_ARRAY and any(contents):
            kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=bytes(4), value=contents))
        if m.kind in (MapKind.RODATA, MapKind.KCONFIG):
            kernel.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(fd))  # libbpf freezes read-only data maps
        if m.type == MapType.BPF_MAP_TYPE_ARENA:
            data = spec.arena_data or b""
            start = arena_data_offset(kernel, m, len(data)) if spec.arena_data is not None else 0
            out.arena = (fd, start)
            out.mappings[m.real_name] = map_arena(kernel, m, fd, data, start)
        if map_hook is not None:
            map_hook(m, fd)
    # 3-4. programs
    for name, p in progs_to_load.items():
        code = _relocate(p, out.maps, spec, ktypes, out.arena)
        attach_btf_id = 0
        expected = p.expected_attach_type
        attach_obj_fd = 0
        if name in targets:
            _kspec, module, attach_btf_id, expected, _ = targets[name]
            if module is not None:
                attach_obj_fd = _module_btf_fd(kernel, module, out)
        use_btf = out.btf_is_object and spec.btf_ext is not None

        def make_attr(level: int, buf: bytearray | None, p: ProgramSpec = p, code: bytes = code,
                      expected: int = expected, attach_btf_id: int = attach_btf_id,
                      attach_obj_fd: int = attach_obj_fd, use_btf: bool = use_btf) -> ProgLoadAttr:  # fmt: skip
            return ProgLoadAttr(
                int(p.prog_type),
                code,
                license=spec.license or p.license,
                prog_name=_kernel_prog_name(p.name),
                expected_attach_type=expected,
                attach_btf_id=attach_btf_id,
                attach_btf_obj_fd=attach_obj_fd,
                prog_flags=_prog_flags(p),
                kern_version=p.kernel_version,
                log_buf=buf,
                log_level=level,
                prog_btf_fd=out.btf_fd if use_btf else 0,
                func_info_rec_size=FUNC_INFO_SIZE if use_btf and p.func_infos else 0,
                func_info=encode_func_info(p.func_infos) if use_btf and p.func_infos else None,
                line_info_rec_size=LINE_INFO_SIZE if use_btf and p.line_infos else 0,
                line_info=encode_line_info(p.line_infos) if use_btf and p.line_infos else None,
            )

        fd, log_text = load_program(kernel, make_attr, name, log_level)
        out.programs[name] = fd
        if log_level:
            out.logs[name] = log_text
    # 5. struct_ops maps
    for m in maps_to_create:
        if m.struct_ops is None:
            continue
        value, vt_id, module = _kernel_value(m, spec, ktypes, out.programs)
        flags = int(MapFlags.BPF_F_LINK) if m.struct_ops.is_link else 0
        obj_fd = 0
        if module is not None:
            flags |= int(MapFlags.BPF_F_VTYPE_BTF_OBJ_FD)
            obj_fd = _module_btf_fd(kernel, module, out)
        attr = MapCreateAttr(
            int(MapType.BPF_MAP_TYPE_STRUCT_OPS),
            4,
            len(value),
            1,
            map_flags=flags,
            map_name=m.name[:15],
            btf_fd=out.btf_fd,
            btf_vmlinux_value_type_id=vt_id,
            value_type_btf_obj_fd=obj_fd,
        )
        fd = kernel.bpf(Cmd.BPF_MAP_CREATE, attr)
        out.maps[m.real_name] = fd
        out.struct_ops_values[m.real_name] = value
        if map_hook is not None:
            map_hook(m, fd)


#: Map types the kernel refuses without key and value BTF (libbpf does not retry them without).
_NEEDS_BTF = frozenset(
    {
        MapType.BPF_MAP_TYPE_SK_STORAGE,
        MapType.BPF_MAP_TYPE_INODE_STORAGE,
        MapType.BPF_MAP_TYPE_TASK_STORAGE,
        MapType.BPF_MAP_TYPE_CGRP_STORAGE,
    }
)


def _create_map(kernel: Kernel, m: MapSpec, out: LoadedObjects) -> int:
    """MAP_CREATE with the map's BTF key/value type ids (libbpf ``bpf_object__create_map``).

    BTF-defined maps pass their ``key``/``value`` types, global data maps their DATASEC as
    the value type.  As libbpf does, a refusal with BTF is retried without it, except
    for the map types that cannot exist without BTF (local storage).  A map-in-map
    declared with ``__array(values, struct inner)`` first gets its inner map template
    created from that definition (``<outer>.inner``); its fd goes in ``inner_map_fd``
    and is closed once the outer map exists.
    """
    if m.inner is not None and m.type in _MAP_IN_MAP:
        inner_fd = _create_map(kernel, m.inner, out)
        try:
            return _create_map_attr(kernel, m, out, inner_fd)
        finally:
            kernel.close(inner_fd)
    return _create_map_attr(kernel, m, out, 0)


_MAP_IN_MAP = frozenset({MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, MapType.BPF_MAP_TYPE_HASH_OF_MAPS})


def _init_map_in_map_slots(kernel: Kernel, m: MapSpec, fd: int, out: LoadedObjects) -> None:
    """libbpf ``init_map_in_map_slots``: store the maps named by the static ``.values`` initialiser."""
    for idx, target in sorted(m.init_slots.items()):
        inner_fd = out.maps.get(target)
        if inner_fd is None:
            raise LoadError(
                f"map '{m.name}': slot {idx} of its .values initialiser names map '{target}', "
                "which is not created (define it before the map-in-map, and keep it autocreated)"
            )
        try:
            kernel.bpf(
                Cmd.BPF_MAP_UPDATE_ELEM,
                MapElemAttr(fd, key=struct.pack("<I", idx), value=struct.pack("<I", inner_fd)),
            )
        except BpfError as exc:
            raise LoadError(f"map '{m.name}': failed to initialise slot {idx} with map '{target}': {exc}") from exc


def _create_map_attr(kernel: Kernel, m: MapSpec, out: LoadedObjects, inner_map_fd: int) -> int:
    key_id, value_id = m.btf_key_type_id, m.btf_value_type_id
    use_btf = out.btf_is_object and bool(value_id)

    def attr(with_btf: bool) -> MapCreateAttr:
        return MapCreateAttr(
            int(m.type),
            m.key_size,
            m.value_size,
            m.max_entries,
            map_flags=m.flags,
            map_name=_kernel_obj_name(m.name),
            numa_node=m.numa_node,
            map_extra=m.map_extra,
            btf_fd=out.btf_fd if with_btf else 0,
            btf_key_type_id=key_id if with_btf else 0,
            btf_value_type_id=value_id if with_btf else 0,
            inner_map_fd=inner_map_fd,
        )

    if not use_btf:
        return kernel.bpf(Cmd.BPF_MAP_CREATE, attr(False))
    try:
        return kernel.bpf(Cmd.BPF_MAP_CREATE, attr(True))
    except BpfError as exc:
        if m.type in _NEEDS_BTF or exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP):
            raise
        return kernel.bpf(Cmd.BPF_MAP_CREATE, attr(False))


def _kernel_obj_name(name: str) -> str:
    """A map/program name the kernel accepts: alphanumerics, ``_`` and ``.``, 15 at most."""
    return "".join(c for c in name if c.isalnum() or c in "_.")[:15]


def _kernel_prog_name(name: str) -> str:
    """The name sent in ``prog_name``: at most 15 characters the kernel accepts (libbpf).

    The kernel keeps only 15; the full name reaches it through the BTF FUNC of func_info.
    """
    return _kernel_obj_name(name)


def _prog_flags(p: ProgramSpec) -> int:
    flags = int(ProgLoadFlags.BPF_F_SLEEPABLE) if p.sleepable else 0
    if p.xdp_frags:
        flags |= int(ProgLoadFlags.BPF_F_XDP_HAS_FRAGS)
    return flags


def register_struct_ops(kernel: Kernel, map_fd: int, value: bytes) -> None:
    """MAP_UPDATE_ELEM with the kernel value (libbpf does this in ``bpf_map__attach_struct_ops``).

    A non-link map is registered by it (U13); a link map becomes READY (U12).
    """
    ret = kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(map_fd, key=bytes(4), value=value))
    if ret != 0:  # U9a quirk: a reset that returns a non-errno value
        raise LoadError(f"struct_ops map update returned {ret} (non-zero module pointer member?)")


def _module_btf_fd(kernel: Kernel, module: str, out: LoadedObjects) -> int:
    """An fd of a module's BTF object, found by walking BTF ids (BTF_GET_NEXT_ID + info name)."""
    from structops.abi.attrs import GetIdAttr, InfoAttr

    start = 0
    while True:
        attr = GetIdAttr(id=start)
        try:
            kernel.bpf(Cmd.BPF_BTF_GET_NEXT_ID, attr)
        except BpfError as exc:
            raise LoadError(f"module BTF for {module} not found") from exc
        start = attr.next_id
        fd = kernel.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=start))
        name_buf = kernel.alloc_user(64)
        info = InfoAttr(fd, bytearray(32))
        struct.pack_into("<QI", info.info, 16, name_buf.addr, 64)
        kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        name = name_buf.read().split(b"\0", 1)[0].decode()
        if name == module:
            out.extra_fds.append(fd)
            return fd
        kernel.close(fd)
