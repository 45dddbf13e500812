"""Introspection of a kernel's BPF objects through the ``Kernel`` protocol only.

What ``bpftool map|prog|link|struct_ops show`` reads, gathered the same way on both
backends: ``BPF_*_GET_NEXT_ID`` walks, ``BPF_*_GET_FD_BY_ID``, ``BPF_OBJ_GET_INFO_BY_FD``
(``struct bpf_map_info`` / ``bpf_prog_info`` / ``bpf_link_info`` / ``bpf_btf_info``, Linux
6.18 layouts), ``BPF_MAP_LOOKUP_ELEM`` and the kernel BTF (vmlinux, or the module BTF
named by ``bpf_map_info.btf_vmlinux_id``) for struct_ops type names (selftests report
C.1, kernel-6.18-observed section 3).

::

    with Introspector(kernel) as intro:
        for m in intro.maps():                  # MapInfo, ascending ids
            print(m.id, m.name, intro.struct_ops_type(m))

Every fd the introspector opens is closed by :meth:`Introspector.close`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from structops import btf as btflib
from structops.abi.attrs import GetIdAttr, InfoAttr, MapElemAttr
from structops.abi.consts import Cmd, LinkType, MapType, ProgType
from structops.abi.layout import Layout
from structops.abi.protocol import Kernel
from structops.abi.tables import BTF_INFO, LINK_INFO, MAP_INFO, PROG_INFO
from structops.errors import BpfError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "BtfInfo",
    "Introspector",
    "LinkInfo",
    "MapInfo",
    "ObjKind",
    "ProgInfo",
    "link_type_name",
    "map_type_name",
    "prog_type_name",
]

ObjKind = Literal["map", "prog", "link", "btf"]
InfoT = TypeVar("InfoT", bound="DataclassInstance")

_NEXT_ID = {
    "map": Cmd.BPF_MAP_GET_NEXT_ID,
    "prog": Cmd.BPF_PROG_GET_NEXT_ID,
    "link": Cmd.BPF_LINK_GET_NEXT_ID,
    "btf": Cmd.BPF_BTF_GET_NEXT_ID,
}
_FD_BY_ID = {
    "map": Cmd.BPF_MAP_GET_FD_BY_ID,
    "prog": Cmd.BPF_PROG_GET_FD_BY_ID,
    "link": Cmd.BPF_LINK_GET_FD_BY_ID,
    "btf": Cmd.BPF_BTF_GET_FD_BY_ID,
}

#: Struct_ops value type names start with this prefix (bpftool strips it, C.1).
VALUE_PREFIX = "bpf_struct_ops_"


def _enum_name(enum_cls: type[MapType] | type[ProgType] | type[LinkType], prefix: str, value: int) -> str | None:
    try:
        return enum_cls(value).name.removeprefix(prefix).lower()
    except ValueError:
        return None


def map_type_name(value: int) -> str | None:
    """libbpf's lower-case map type name (``26`` -> ``"struct_ops"``), None if unknown."""
    return _enum_name(MapType, "BPF_MAP_TYPE_", value)


def prog_type_name(value: int) -> str | None:
    """libbpf's lower-case program type name, None if unknown."""
    return _enum_name(ProgType, "BPF_PROG_TYPE_", value)


def link_type_name(value: int) -> str | None:
    """libbpf's lower-case link type name, None if unknown."""
    return _enum_name(LinkType, "BPF_LINK_TYPE_", value)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _decode(cls: type[InfoT], layout: Layout, raw: bytes, **given: Any) -> InfoT:
    """An info record whose fields are read from the layout fields of the same names
    (``str`` ones from char arrays, ``bool`` ones from flags); ``given`` values win."""
    values = layout.unpack(raw)
    kw = dict(given)
    for f in dataclasses.fields(cls):
        if f.name not in kw:
            v = values[f.name]
            kw[f.name] = _cstr(v) if isinstance(v, bytes) and f.type == "str" else bool(v) if f.type == "bool" else v
    return cls(**kw)


class _IntField:
    """An integer member of :class:`MapInfo`, read from ``fields`` by the attribute's name."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @overload
    def __get__(self, obj: None, owner: type) -> _IntField: ...
    @overload
    def __get__(self, obj: MapInfo, owner: type) -> int: ...
    def __get__(self, obj: MapInfo | None, owner: type) -> int | _IntField:
        if obj is None:
            return self
        value = obj.fields[self.key]
        assert isinstance(value, int)
        return value


@dataclass(frozen=True)
class MapInfo:
    """``struct bpf_map_info`` decoded; ``fields`` keeps every member in C order (for dumps)."""

    fields: dict[str, int | str]

    @classmethod
    def from_bytes(cls, raw: bytes) -> MapInfo:
        """Decode the info bytes the kernel wrote (short buffers read as zero)."""
        return cls({k: _cstr(v) if isinstance(v, bytes) else v for k, v in MAP_INFO.unpack(raw).items()})

    id = _IntField("Map id.")
    type = _IntField("``enum bpf_map_type`` value.")
    key_size = _IntField("Key size in bytes.")
    value_size = _IntField("Value size in bytes.")
    max_entries = _IntField("Capacity.")
    map_flags = _IntField("Creation flags (``BPF_F_LINK`` = 0x2000 for ``.struct_ops.link`` maps).")
    btf_id = _IntField("Id of the BTF object the map was created with (0 if none).")
    btf_vmlinux_value_type_id = _IntField("Kernel BTF id of ``struct bpf_struct_ops_<name>`` (struct_ops maps, C16).")
    btf_vmlinux_id = _IntField("Id of the kernel BTF object (vmlinux or a module) that value type lives in.")

    @property
    def name(self) -> str:
        """Object name (up to 15 characters)."""
        return str(self.fields["name"])

    @property
    def is_struct_ops(self) -> bool:
        """True for a ``BPF_MAP_TYPE_STRUCT_OPS`` map."""
        return self.type == MapType.BPF_MAP_TYPE_STRUCT_OPS


@dataclass(frozen=True)
class ProgInfo:
    """The ``struct bpf_prog_info`` members bpftool shows."""

    type: int
    id: int
    tag: bytes
    jited_prog_len: int
    xlated_prog_len: int
    load_time: int
    created_by_uid: int
    map_ids: tuple[int, ...]
    name: str
    gpl_compatible: bool
    btf_id: int
    run_time_ns: int
    run_cnt: int
    recursion_misses: int
    verified_insns: int
    attach_btf_obj_id: int
    attach_btf_id: int

    @classmethod
    def from_bytes(cls, raw: bytes, map_ids: tuple[int, ...] = ()) -> ProgInfo:
        """Decode the info bytes (``map_ids`` were copied to a user buffer separately)."""
        return _decode(cls, PROG_INFO, raw, map_ids=map_ids)


@dataclass(frozen=True)
class LinkInfo:
    """``struct bpf_link_info`` header plus the struct_ops ``map_id`` (K8)."""

    type: int
    id: int
    prog_id: int
    map_id: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> LinkInfo:
        """Decode the info bytes; ``map_id`` is meaningful for struct_ops links only."""
        struct_ops = LINK_INFO.read_int("type", raw) == LinkType.BPF_LINK_TYPE_STRUCT_OPS
        return _decode(cls, LINK_INFO, raw) if struct_ops else _decode(cls, LINK_INFO, raw, map_id=0)


@dataclass(frozen=True)
class BtfInfo:
    """``struct bpf_btf_info``: id, name and whether it is a kernel (vmlinux/module) BTF."""

    id: int
    btf_size: int
    name: str
    kernel_btf: bool


class Introspector:
    """Walks and reads a kernel's objects; owns (and closes) the fds it opens."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._fds: list[int] = []
        self._btf_cache: dict[int, btflib.Spec] = {}
        self._vmlinux: btflib.Spec | None = None

    # -- fds ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close every fd this introspector opened."""
        while self._fds:
            with contextlib.suppress(OSError):
                self.kernel.close(self._fds.pop())

    def __enter__(self) -> Introspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ids(self, kind: ObjKind) -> Iterator[int]:
        """Every id of ``kind`` in ascending order (GET_NEXT_ID walk until ENOENT)."""
        start = 0
        while True:
            attr = GetIdAttr(id=start)
            try:
                self.kernel.bpf(_NEXT_ID[kind], attr)
            except BpfError as exc:
                if exc.errno == 2:
                    return
                raise
            start = attr.next_id
            yield start

    def fd_by_id(self, kind: ObjKind, obj_id: int) -> int:
        """GET_FD_BY_ID (NotFound/ENOENT if there is no such object); closed by close()."""
        fd = self.kernel.bpf(_FD_BY_ID[kind], GetIdAttr(id=obj_id))
        self._fds.append(fd)
        return fd

    def _info(self, fd: int, size: int, prefill: bytes = b"") -> bytes:
        attr = InfoAttr(fd, bytearray(prefill.ljust(size, b"\0")))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        return bytes(attr.info)

    # -- infos --------------------------------------------------------------------------
    def map_info(self, fd: int) -> MapInfo:
        """``bpf_map_info`` of a map fd."""
        return MapInfo.from_bytes(self._info(fd, MAP_INFO.size))

    def prog_info(self, fd: int) -> ProgInfo:
        """``bpf_prog_info`` of a program fd, with its map ids (two calls, like bpftool)."""
        raw = self._info(fd, PROG_INFO.size)
        nr = PROG_INFO.read_int("nr_map_ids", raw)
        if not nr:
            return ProgInfo.from_bytes(raw)
        ubuf = self.kernel.alloc_user(4 * nr)
        raw = self._info(fd, PROG_INFO.size, PROG_INFO.pack({"nr_map_ids": nr, "map_ids": ubuf.addr}))
        got = min(nr, PROG_INFO.read_int("nr_map_ids", raw))
        ids = struct.unpack_from(f"<{got}I", ubuf.read(0, 4 * got)) if got else ()
        return ProgInfo.from_bytes(raw, tuple(int(i) for i in ids))

    def link_info(self, fd: int) -> LinkInfo:
        """``bpf_link_info`` of a link fd."""
        return LinkInfo.from_bytes(self._info(fd, LINK_INFO.size))

    def btf_info(self, fd: int) -> BtfInfo:
        """``bpf_btf_info`` of a BTF fd, with its name."""
        name_buf = self.kernel.alloc_user(64)
        raw = self._info(fd, BTF_INFO.size, BTF_INFO.pack({"name": name_buf.addr, "name_len": 64}))
        name_len = BTF_INFO.read_int("name_len", raw)
        name = _cstr(name_buf.read(0, min(name_len, 64))) if name_len else ""
        return _decode(BtfInfo, BTF_INFO, raw, name=name)

    def btf_spec(self, btf_obj_id: int) -> btflib.Spec:
        """The BTF object ``btf_obj_id`` (a program's or map's BTF) read through its info."""
        if btf_obj_id in self._btf_cache:
            return self._btf_cache[btf_obj_id]
        fd = self.fd_by_id("btf", btf_obj_id)
        size = self.btf_info(fd).btf_size
        ubuf = self.kernel.alloc_user(max(size, 1))
        self._info(fd, BTF_INFO.size, BTF_INFO.pack({"btf": ubuf.addr, "btf_size": size}))
        raw = ubuf.read(0, size)
        try:
            spec = btflib.parse(raw, validate=False)
        except btflib.BTFError:  # split BTF on top of vmlinux
            spec = btflib.parse(raw, base=self.vmlinux(), validate=False)
        self._btf_cache[btf_obj_id] = spec
        return spec

    def prog_full_name(self, fd: int, info: ProgInfo) -> str:
        """The program's full name like bpftool: the object name when it is shorter than
        15 characters, else the BTF FUNC name of its first func_info record (or, where the
        kernel reports no func_info, the one FUNC of its BTF starting with that name)."""
        if len(info.name) < 15 or not info.btf_id:
            return info.name
        try:
            spec = self.btf_spec(info.btf_id)
            raw = self._info(fd, PROG_INFO.size)
            rec_size, nr = PROG_INFO.read_int("func_info_rec_size", raw), PROG_INFO.read_int("nr_func_info", raw)
            if nr and rec_size >= 8:
                ubuf = self.kernel.alloc_user(rec_size)
                pre = {"func_info_rec_size": rec_size, "func_info": ubuf.addr, "nr_func_info": 1}
                self._info(fd, PROG_INFO.size, PROG_INFO.pack(pre))
                type_id = struct.unpack_from("<I", ubuf.read(0, 8), 4)[0]
                func = spec.type_by_id(type_id)
                if isinstance(func, btflib.Func):
                    return func.name
            matches = {t.name for t in spec.types if isinstance(t, btflib.Func) and t.name.startswith(info.name)}
            if len(matches) == 1:
                return matches.pop()
        except (BpfError, btflib.BTFError, LookupError):
            pass
        return info.name

    def maps(self) -> Iterator[MapInfo]:
        """Infos of every map (maps freed during the walk are skipped, like bpftool)."""
        for info in self._walk("map"):
            assert isinstance(info, MapInfo)
            yield info

    def progs(self) -> Iterator[ProgInfo]:
        """Infos of every program."""
        for info in self._walk("prog"):
            assert isinstance(info, ProgInfo)
            yield info

    def links(self) -> Iterator[LinkInfo]:
        """Infos of every link."""
        for info in self._walk("link"):
            assert isinstance(info, LinkInfo)
            yield info

    def fds(self, kind: ObjKind) -> Iterator[int]:
        """An fd for every live object of ``kind`` (skipping those freed meanwhile); closed by close()."""
        for obj_id in list(self.ids(kind)):
            try:
                fd = self.fd_by_id(kind, obj_id)
            except BpfError as exc:
                if exc.errno == 2:  # freed between the walk and the open
                    continue
                raise
            yield fd

    def _walk(self, kind: ObjKind) -> Iterator[MapInfo | ProgInfo | LinkInfo]:
        for fd in self.fds(kind):
            yield self.info_of(kind, fd)

    def info_of(self, kind: ObjKind, fd: int) -> MapInfo | ProgInfo | LinkInfo:
        """The info record of ``fd`` for ``kind`` (map, prog or link)."""
        if kind == "map":
            return self.map_info(fd)
        if kind == "prog":
            return self.prog_info(fd)
        return self.link_info(fd)

    def maps_where(self, keep: Callable[[MapInfo], bool]) -> list[tuple[int, MapInfo]]:
        """(fd, info) of every map whose info ``keep`` accepts (maps that cannot be opened are skipped)."""
        out = []
        for obj_id in list(self.ids("map")):
            try:
                fd = self.fd_by_id("map", obj_id)
            except BpfError:
                continue
            info = self.map_info(fd)
            if keep(info):
                out.append((fd, info))
        return out

    def map_fds_by_name(self, name: str) -> list[tuple[int, MapInfo]]:
        """(fd, info) of every map called ``name`` (several can match)."""
        return self.maps_where(lambda info: info.name == name)

    def lookup(self, fd: int, key: bytes, value_size: int) -> bytes:
        """MAP_LOOKUP_ELEM of ``key``."""
        out = bytearray(value_size)
        self.kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=key, value=out))
        return bytes(out)

    def next_key(self, fd: int, key: bytes | None, key_size: int) -> bytes | None:
        """MAP_GET_NEXT_KEY after ``key`` (None = first); None at the end (ENOENT)."""
        out = bytearray(key_size)
        try:
            self.kernel.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=key, value=out))
        except BpfError as exc:
            if exc.errno == 2:
                return None
            raise
        return bytes(out)

    # -- kernel BTF ---------------------------------------------------------------------
    def vmlinux(self) -> btflib.Spec:
        """The kernel's vmlinux BTF (parsed once)."""
        if self._vmlinux is None:
            self._vmlinux = btflib.parse(self.kernel.vmlinux_btf(), validate=False)
        return self._vmlinux

    def kernel_btf(self, btf_obj_id: int) -> btflib.Spec:
        """The kernel BTF with object id ``btf_obj_id``: vmlinux, or a module's split BTF
        (found by the name in its ``bpf_btf_info``); 0 means vmlinux."""
        if btf_obj_id in self._btf_cache:
            return self._btf_cache[btf_obj_id]
        spec = self.vmlinux()
        if btf_obj_id:
            info = self.btf_info(self.fd_by_id("btf", btf_obj_id))
            if info.name and info.name != "vmlinux":
                raw = self.kernel.module_btfs().get(info.name)
                if raw is None:
                    raise LookupError(f"no module BTF called {info.name!r}")
                spec = btflib.parse(raw, base=self.vmlinux(), validate=False)
        self._btf_cache[btf_obj_id] = spec
        return spec

    def struct_ops_value_type(self, info: MapInfo) -> tuple[btflib.Spec, btflib.Struct]:
        """(kernel BTF, ``struct bpf_struct_ops_<name>``) of a struct_ops map."""
        spec = self.kernel_btf(info.btf_vmlinux_id)
        t = spec.type_by_id(info.btf_vmlinux_value_type_id)
        if not isinstance(t, btflib.Struct):
            raise LookupError(f"btf_vmlinux_value_type_id {info.btf_vmlinux_value_type_id} is not a struct")
        return spec, t

    def struct_ops_type(self, info: MapInfo) -> str:
        """The kernel struct_ops type name of a struct_ops map (``tcp_congestion_ops``)."""
        _, t = self.struct_ops_value_type(info)
        return t.name.removeprefix(VALUE_PREFIX)
