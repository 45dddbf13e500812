"""The bpf() command dispatcher of the embedded kernel.

Each ``sys_*`` function checks its attrs in the kernel's order (``kernel/bpf/syscall.c``)
and then calls into the object's type.  Errors are raised as :class:`BpfError` with the
kernel's errno; the U9a quirk (a non-errno return value) comes back as the return value.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error
from structops.kernel import attrs as A
from structops.kernel import info
from structops.kernel.btf_obj import BtfObject, load_user_btf
from structops.kernel.maps.array import ArrayMap
from structops.kernel.maps.base import BpfMap, check_obj_name
from structops.kernel.maps.hash import HashMap
from structops.kernel.maps.map_in_map import ArrayOfMaps, HashOfMaps, MapInMap, meta_alloc
from structops.kernel.maps.percpu_array import PercpuArrayMap
from structops.kernel.maps.queue import QueueMap, StackMap
from structops.kernel.maps.sk_storage import CgrpStorageMap, SkStorageMap, TaskStorageMap
from structops.kernel.objects import KObject
from structops.kernel.prog import BpfProg
from structops.kernel.progload import load_program
from structops.kernel.services import CAP_BPF, CAP_SYS_ADMIN
from structops.kernel.stats import sys_enable_stats
from structops.kernel.struct_ops import (
    QuirkReturn,
    StructOpsLink,
    StructOpsMap,
    find_desc_by_value,
    link_create,
    prog_assoc,
)
from structops.kernel.testrun import test_run
from structops.uapi import (
    BPF_F_RDONLY,
    BPF_F_REPLACE,
    BPF_F_WRONLY,
    ENOTSUPP,
    AttachType,
    Cmd,
    MapFlags,
    MapType,
    ProgType,
    UpdateFlags,
)

if TYPE_CHECKING:
    from structops.kernel.emulated import Process

__all__ = ["dispatch"]

Handler = Callable[["Process", Any], int]


def _check_tail(attr: object) -> None:
    tail = getattr(attr, "tail", b"")
    if tail and any(tail):
        raise bpf_error(errno.EINVAL, "non-zero bytes after the last attr field")


def _expect(attr: object, cls: type) -> None:
    """The attr of a command: a ``cls`` (-EINVAL) whose bytes past the last field are zero (-EINVAL)."""
    if not isinstance(attr, cls):
        raise bpf_error(errno.EINVAL, f"attr must be {cls.__name__}")
    _check_tail(attr)


def _copy_out(out: object, data: bytes, size: int, what: str) -> int:
    """copy_to_user of ``data`` into a user buffer of at least ``size`` bytes (-EFAULT)."""
    if not isinstance(out, bytearray) or len(out) < size:
        raise bpf_error(errno.EFAULT, f"{what} buffer must be a bytearray of {size} bytes")
    out[: len(data)] = data
    return 0


# ---------------------------------------------------------------------------------------
# maps
# ---------------------------------------------------------------------------------------
MAP_TYPES: dict[int, type[BpfMap]] = {
    MapType.BPF_MAP_TYPE_ARRAY: ArrayMap,
    MapType.BPF_MAP_TYPE_HASH: HashMap,
    MapType.BPF_MAP_TYPE_STRUCT_OPS: StructOpsMap,
    MapType.BPF_MAP_TYPE_SK_STORAGE: SkStorageMap,
    MapType.BPF_MAP_TYPE_PERCPU_ARRAY: PercpuArrayMap,
    MapType.BPF_MAP_TYPE_QUEUE: QueueMap,
    MapType.BPF_MAP_TYPE_STACK: StackMap,
    MapType.BPF_MAP_TYPE_TASK_STORAGE: TaskStorageMap,
    MapType.BPF_MAP_TYPE_CGRP_STORAGE: CgrpStorageMap,
    MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS: ArrayOfMaps,
    MapType.BPF_MAP_TYPE_HASH_OF_MAPS: HashOfMaps,
}


def sys_map_create(proc: Process, attr: A.MapCreateAttr) -> int:
    """BPF_MAP_CREATE (C1-C15)."""
    _expect(attr, A.MapCreateAttr)  # C1
    kernel = proc.kernel
    flags = attr.map_flags & ~int(MapFlags.BPF_F_TOKEN_FD)  # C2
    attr = attr.replace(map_flags=flags)  # type: ignore[assignment]
    if attr.btf_vmlinux_value_type_id and (  # C3
        attr.map_type != MapType.BPF_MAP_TYPE_STRUCT_OPS or attr.btf_key_type_id or attr.btf_value_type_id
    ):
        raise bpf_error(errno.EINVAL, "btf_vmlinux_value_type_id is only for struct_ops maps")
    if attr.btf_key_type_id and not attr.btf_value_type_id:
        raise bpf_error(errno.EINVAL, "btf_key_type_id without btf_value_type_id")
    if attr.map_extra:  # C4
        raise bpf_error(errno.EINVAL, "map_extra must be 0")
    if (flags & MapFlags.BPF_F_RDONLY) and (flags & MapFlags.BPF_F_WRONLY):  # C5
        raise bpf_error(errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together")
    cls = MAP_TYPES.get(attr.map_type)
    if cls is None:
        raise bpf_error(errno.EINVAL, f"map type {attr.map_type} is not supported by the embedded kernel")
    cls.alloc_check(attr)  # C6
    if kernel.unprivileged_bpf_disabled and not proc.capable(CAP_BPF):  # C9
        raise bpf_error(errno.EPERM, "unprivileged bpf is disabled")
    if cls is StructOpsMap and not proc.capable(CAP_BPF):
        raise bpf_error(errno.EPERM, "struct_ops maps need CAP_BPF")
    # C10: allocation
    m: BpfMap
    if cls is StructOpsMap:
        m = _alloc_struct_ops_map(proc, attr)
    elif issubclass(cls, MapInMap):
        m = cls(kernel, attr, meta_alloc(proc, attr.inner_map_fd))
    else:
        m = cls(kernel, attr)
    try:
        m.name = check_obj_name(attr.map_name, "map name")  # C11
        if attr.btf_key_type_id or attr.btf_value_type_id or attr.btf_vmlinux_value_type_id:  # C12
            btf = proc.get_btf(attr.btf_fd)
            if btf.kernel_btf:
                raise bpf_error(errno.EACCES, "map btf_fd must be a user BTF")
            if attr.btf_value_type_id:
                m.check_btf(btf)
            btf.get()
            m.btf = btf
    except OSError:
        m.put()
        raise
    kernel.ids["map"].add(m)  # C14
    return proc.install(m, new=True)


def _alloc_struct_ops_map(proc: Process, attr: A.MapCreateAttr) -> StructOpsMap:
    """C10: find the value type in vmlinux (or the module BTF given by fd)."""
    kernel = proc.kernel
    holds_module = False
    if attr.map_flags & MapFlags.BPF_F_VTYPE_BTF_OBJ_FD:  # C10a
        btf = proc.get_btf(attr.value_type_btf_obj_fd)
        if not btf.is_module:
            raise bpf_error(errno.EINVAL, "value_type_btf_obj_fd is not a module BTF")
        assert btf.module is not None
        if not kernel.module_try_get(btf.module):
            raise bpf_error(errno.EINVAL, f"module {btf.module} is going away")
        holds_module = True
    else:
        btf = kernel.vmlinux  # C10b
    try:
        desc = find_desc_by_value(kernel, btf, attr.btf_vmlinux_value_type_id)  # C10c
        if desc is None:
            raise bpf_error(ENOTSUPP, f"value type id {attr.btf_vmlinux_value_type_id} is not a struct_ops value")
        if attr.value_size != desc.value_type.size:  # C10d
            raise bpf_error(errno.EINVAL, f"value_size must be {desc.value_type.size}")
        m = StructOpsMap(kernel, attr, btf, desc)
    except OSError:
        if holds_module and btf.module is not None:  # C10f
            kernel.module_put(btf.module)
        raise
    m.holds_module = holds_module
    return m


def _map_for(proc: Process, fd: int, *, read: bool = False, write: bool = False) -> BpfMap:
    m, f = proc.get_map(fd)
    if (read and not f.readable) or (write and not f.writable):
        raise bpf_error(errno.EPERM, "fd lacks the needed access mode")
    return m


def _key(m: BpfMap, key: bytes | bytearray | None, size: int | None = None) -> bytes:
    n = m.key_size if size is None else size
    if n == 0:  # queue/stack: __bpf_copy_key reads nothing for key_size 0 (NULL is fine)
        return b""
    if key is None or isinstance(key, int):
        raise bpf_error(errno.EFAULT, "key pointer is NULL")
    if len(key) < n:
        raise bpf_error(errno.EFAULT, "key buffer too small")
    return bytes(key[:n])


def sys_map_lookup(proc: Process, attr: A.MapElemAttr) -> int:
    """BPF_MAP_LOOKUP_ELEM (L1-L4)."""
    _expect(attr, A.MapElemAttr)
    if attr.flags & ~int(UpdateFlags.BPF_F_LOCK):
        raise bpf_error(errno.EINVAL, "bad lookup flags")
    m = _map_for(proc, attr.map_fd, read=True)
    if attr.flags & UpdateFlags.BPF_F_LOCK:
        raise bpf_error(errno.EINVAL, "map has no spin lock")
    key = _key(m, attr.key)
    value = m.lookup(key)
    return _copy_out(attr.value, value, m.value_size, "value")


def sys_map_update(proc: Process, attr: A.MapElemAttr) -> int:
    """BPF_MAP_UPDATE_ELEM (U0a, then the map type's update)."""
    _expect(attr, A.MapElemAttr)
    m = _map_for(proc, attr.map_fd, write=True)
    if attr.flags & UpdateFlags.BPF_F_LOCK:
        raise bpf_error(errno.EINVAL, "map has no spin lock")
    if m.frozen:
        raise bpf_error(errno.EPERM, "map is frozen")
    key = _key(m, attr.key)
    if attr.value is None or isinstance(attr.value, int) or len(attr.value) < m.value_size:
        raise bpf_error(errno.EFAULT, "value buffer too small")
    try:
        if isinstance(m, MapInMap):
            m.update_fd(proc, key, bytes(attr.value[:4]), attr.flags)
        else:
            m.update(key, bytes(attr.value[: m.value_size]), attr.flags)
    except QuirkReturn as q:
        return q.value
    return 0


def sys_map_delete(proc: Process, attr: A.MapElemAttr) -> int:
    """BPF_MAP_DELETE_ELEM (D1-D5)."""
    _expect(attr, A.MapElemAttr)
    m = _map_for(proc, attr.map_fd, write=True)
    if m.frozen:
        raise bpf_error(errno.EPERM, "map is frozen")
    m.delete(_key(m, attr.key))
    return 0


def sys_map_get_next_key(proc: Process, attr: A.MapElemAttr) -> int:
    """BPF_MAP_GET_NEXT_KEY (L6); the next key goes into ``attr.value``."""
    _expect(attr, A.MapElemAttr)
    m = _map_for(proc, attr.map_fd, read=True)
    key = None if attr.key is None else _key(m, attr.key)
    nxt = m.get_next_key(key)
    return _copy_out(attr.value, nxt, m.key_size, "next_key")


def sys_map_freeze(proc: Process, attr: A.MapFreezeAttr) -> int:
    """BPF_MAP_FREEZE (L7 for struct_ops: -ENOTSUPP before the write check)."""
    _expect(attr, A.MapFreezeAttr)
    m, f = proc.get_map(attr.map_fd)
    if isinstance(m, StructOpsMap):
        m.freeze()
    if not f.writable:
        raise bpf_error(errno.EPERM, "fd is read-only")
    if m.frozen:
        raise bpf_error(errno.EBUSY, "map already frozen")
    m.freeze()
    return 0


def sys_map_lookup_and_delete(proc: Process, attr: A.MapElemAttr) -> int:
    """BPF_MAP_LOOKUP_AND_DELETE_ELEM: read+write perms, then -ENOTSUPP for struct_ops (L8)."""
    _expect(attr, A.MapElemAttr)
    m = _map_for(proc, attr.map_fd, read=True, write=True)
    if attr.flags & ~int(UpdateFlags.BPF_F_LOCK):
        raise bpf_error(errno.EINVAL, "bad flags")
    if isinstance(m, StructOpsMap | ArrayMap | MapInMap):
        raise bpf_error(ENOTSUPP, "lookup_and_delete is not supported by this map type")
    key = _key(m, attr.key)
    if isinstance(m, QueueMap):  # map_pop_elem
        popped = m.take(True)
        if popped is None:
            raise bpf_error(errno.ENOENT, "queue is empty")
        value = popped
    else:
        value = m.lookup(key)
        m.delete(key)
    if isinstance(attr.value, bytearray):
        attr.value[: len(value)] = value
    return 0


def sys_batch(proc: Process, attr: Any) -> int:
    """Batch map operations: -ENOTSUPP on the embedded kernel's map types (L8)."""
    raise bpf_error(ENOTSUPP, "batch operations are not supported")


# ---------------------------------------------------------------------------------------
# BTF
# ---------------------------------------------------------------------------------------
def sys_btf_load(proc: Process, attr: A.BtfLoadAttr) -> int:
    """BPF_BTF_LOAD: user BTF objects."""
    _expect(attr, A.BtfLoadAttr)
    kernel = proc.kernel
    if not proc.capable(CAP_BPF):
        raise bpf_error(errno.EPERM, "BTF_LOAD needs CAP_BPF")
    if attr.btf_log_level and (attr.btf_log_buf is None or len(attr.btf_log_buf) < 128):
        raise bpf_error(errno.EINVAL, "log buffer too small")
    obj = load_user_btf(kernel, bytes(attr.btf[: attr.btf_size] if attr.btf_size else attr.btf), attr.btf_log_buf)
    kernel.ids["btf"].add(obj)
    return proc.install(obj, new=True)


# ---------------------------------------------------------------------------------------
# programs
# ---------------------------------------------------------------------------------------
def sys_prog_load(proc: Process, attr: A.ProgLoadAttr) -> int:
    """BPF_PROG_LOAD (V1-V18): see :mod:`structops.kernel.progload`."""
    _expect(attr, A.ProgLoadAttr)
    prog = load_program(proc, attr)
    proc.kernel.ids["prog"].add(prog)
    return proc.install(prog, new=True)


def sys_prog_test_run(proc: Process, attr: A.TestRunAttr) -> int:
    """BPF_PROG_TEST_RUN (DM6, DM7 for struct_ops; generic test_run otherwise)."""
    _expect(attr, A.TestRunAttr)
    for buf, size, what in (
        (attr.ctx_in, attr.ctx_size_in, "ctx_in"),
        (attr.ctx_out, attr.ctx_size_out, "ctx_out"),
    ):
        n = size if size is not None else (len(buf) if buf is not None else 0)
        if bool(n) != (buf is not None and (size is not None or len(buf) > 0)):
            raise bpf_error(errno.EINVAL, f"{what} and its size must be set together (DM6)")
    prog = proc.get_prog(attr.prog_fd)
    try:
        return test_run(proc, prog, attr)
    finally:
        prog.put()


@contextmanager
def _prog_and_map(
    proc: Process, attr: A.ProgBindMapAttr | A.ProgAssocStructOpsAttr, cls: type, *, no_struct_ops_prog: bool = False
) -> Iterator[tuple[BpfProg, BpfMap]]:
    """The (prog, map) of a command naming both, flags 0; the prog reference is held inside."""
    _expect(attr, cls)
    if attr.flags:
        raise bpf_error(errno.EINVAL, "flags must be 0")
    prog = proc.get_prog(attr.prog_fd)
    try:
        if no_struct_ops_prog and prog.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS:
            raise bpf_error(errno.EINVAL, "struct_ops programs cannot be associated explicitly")
        m, _ = proc.get_map(attr.map_fd)
        yield prog, m
    finally:
        prog.put()


def _sys_enable_stats(proc: Process, attr: A.EnableStatsAttr) -> int:
    """BPF_ENABLE_STATS: attr checks here, the rest in :mod:`structops.kernel.stats`."""
    _expect(attr, A.EnableStatsAttr)
    return sys_enable_stats(proc, attr)


def sys_prog_bind_map(proc: Process, attr: A.ProgBindMapAttr) -> int:
    """BPF_PROG_BIND_MAP: the prog keeps a reference to the map."""
    with _prog_and_map(proc, attr, A.ProgBindMapAttr) as (prog, m):
        if m not in prog.used_maps:
            m.get()
            prog.used_maps.append(m)
    return 0


def sys_prog_assoc_struct_ops(proc: Process, attr: A.ProgAssocStructOpsAttr) -> int:
    """BPF_PROG_ASSOC_STRUCT_OPS (A1)."""
    with _prog_and_map(proc, attr, A.ProgAssocStructOpsAttr, no_struct_ops_prog=True) as (prog, m):
        if not isinstance(m, StructOpsMap):
            raise bpf_error(errno.EINVAL, "map is not a struct_ops map")
        ret = prog_assoc(prog, m)
        if ret < 0:
            raise bpf_error(-ret, "program is associated with another struct_ops map")
        return ret


# ---------------------------------------------------------------------------------------
# links
# ---------------------------------------------------------------------------------------
def sys_link_create(proc: Process, attr: A.LinkCreateAttr) -> int:
    """BPF_LINK_CREATE (K1-K5); only struct_ops links exist in the embedded kernel."""
    _expect(attr, A.LinkCreateAttr)
    if attr.attach_type != AttachType.BPF_STRUCT_OPS:
        prog = proc.get_prog(attr.prog_fd)
        prog.put()
        raise bpf_error(errno.EINVAL, f"attach type {attr.attach_type} is not supported by the embedded kernel")
    m, _ = proc.get_map(attr.map_fd)  # K2
    link = link_create(proc.kernel, m)
    proc.kernel.ids["link"].add(link)
    return proc.install(link, new=True)


def _link_for(proc: Process, fd: int) -> StructOpsLink:
    obj, _ = proc.get_obj(fd, KObject, "link")
    if not isinstance(obj, StructOpsLink):
        raise bpf_error(errno.EINVAL, f"fd {fd} is not a link")
    return obj


def sys_link_update(proc: Process, attr: A.LinkUpdateAttr) -> int:
    """BPF_LINK_UPDATE (KU1-KU2)."""
    _expect(attr, A.LinkUpdateAttr)
    if attr.flags & ~BPF_F_REPLACE:
        raise bpf_error(errno.EINVAL, "bad link_update flags")
    link = _link_for(proc, attr.link_fd)
    new_map, _ = proc.get_map(attr.new_fd)
    old_map = None
    if attr.flags & BPF_F_REPLACE:
        old_map, _ = proc.get_map(attr.old_fd)
    elif attr.old_fd:
        raise bpf_error(errno.EINVAL, "old_map_fd without BPF_F_REPLACE")
    link.update_map(new_map, old_map)
    return 0


def sys_link_detach(proc: Process, attr: A.LinkDetachAttr) -> int:
    """BPF_LINK_DETACH (KD1-KD3)."""
    _expect(attr, A.LinkDetachAttr)
    _link_for(proc, attr.link_fd).detach()
    return 0


# ---------------------------------------------------------------------------------------
# ids, fds, pins, info
# ---------------------------------------------------------------------------------------
def _next_id(kind: str) -> Handler:
    def handler(proc: Process, attr: A.GetIdAttr) -> int:
        _expect(attr, A.GetIdAttr)
        if attr.next_id or attr.open_flags:
            raise bpf_error(errno.EINVAL, "next_id and open_flags must be 0")
        if not proc.capable(CAP_SYS_ADMIN):
            raise bpf_error(errno.EPERM, "GET_NEXT_ID needs CAP_SYS_ADMIN")
        nxt = proc.kernel.ids[kind].next_id(attr.id)
        if nxt is None:
            raise bpf_error(errno.ENOENT, "no next id")
        attr.next_id = nxt
        return 0

    return handler


def _fd_by_id(kind: str) -> Handler:
    def handler(proc: Process, attr: A.GetIdAttr) -> int:
        _expect(attr, A.GetIdAttr)
        if attr.open_flags & ~(BPF_F_RDONLY | BPF_F_WRONLY) or (
            (attr.open_flags & BPF_F_RDONLY) and (attr.open_flags & BPF_F_WRONLY)
        ):
            raise bpf_error(errno.EINVAL, "bad open_flags")
        if kind != "map" and attr.open_flags:
            raise bpf_error(errno.EINVAL, "open_flags are only for maps")
        if not proc.capable(CAP_SYS_ADMIN):
            raise bpf_error(errno.EPERM, "GET_FD_BY_ID needs CAP_SYS_ADMIN")
        obj = proc.kernel.ids[kind].get(attr.id)
        if obj is None or not obj.try_get():
            raise bpf_error(errno.ENOENT, f"no {kind} with id {attr.id}")
        obj.put()
        readable = not (attr.open_flags & BPF_F_WRONLY)
        writable = not (attr.open_flags & BPF_F_RDONLY)
        return proc.install(obj, new=False, readable=readable, writable=writable)

    return handler


def sys_obj_pin(proc: Process, attr: A.ObjPinAttr) -> int:
    """BPF_OBJ_PIN on the emulated bpffs."""
    _expect(attr, A.ObjPinAttr)
    if attr.file_flags:
        raise bpf_error(errno.EINVAL, "file_flags must be 0")
    file = proc.get_file(attr.bpf_fd)
    proc.kernel.bpffs.pin(attr.pathname, file.obj)
    return 0


def sys_obj_get(proc: Process, attr: A.ObjPinAttr) -> int:
    """BPF_OBJ_GET: open a pinned object (file_flags RDONLY / WRONLY)."""
    _expect(attr, A.ObjPinAttr)
    flags = attr.file_flags
    if attr.bpf_fd or flags & ~(BPF_F_RDONLY | BPF_F_WRONLY) or flags == (BPF_F_RDONLY | BPF_F_WRONLY):
        raise bpf_error(errno.EINVAL, "bad OBJ_GET attrs")
    obj = proc.kernel.bpffs.get(attr.pathname)
    return proc.install(obj, new=False, readable=not (flags & BPF_F_WRONLY), writable=not (flags & BPF_F_RDONLY))


def sys_obj_get_info(proc: Process, attr: A.InfoAttr) -> int:
    """BPF_OBJ_GET_INFO_BY_FD for maps, programs, links and BTF objects."""
    _expect(attr, A.InfoAttr)
    file = proc.get_file(attr.bpf_fd)
    obj = file.obj
    buf = attr.info
    user_len = len(buf) if attr.info_len is None else min(attr.info_len, len(buf))
    if isinstance(obj, BpfMap):
        data = info.map_info(obj)
    elif isinstance(obj, BpfProg):
        data = info.prog_info(proc, obj, bytes(buf[:user_len]))
    elif isinstance(obj, StructOpsLink):
        data = info.link_info(obj, bytes(buf[:user_len]))
    elif isinstance(obj, BtfObject):
        data = info.btf_info(proc, obj, bytes(buf[:user_len]))
    else:
        raise bpf_error(errno.EINVAL, "unknown object type")
    if user_len > len(data) and any(buf[len(data) : user_len]):  # bpf_check_uarg_tail_zero
        raise bpf_error(errno.E2BIG, "info buffer has non-zero bytes past the kernel struct")
    n = min(user_len, len(data))
    buf[:n] = data[:n]
    attr.info_len = n
    return 0


_DISPATCH: dict[int, Handler] = {
    Cmd.BPF_MAP_CREATE: sys_map_create,
    Cmd.BPF_MAP_LOOKUP_ELEM: sys_map_lookup,
    Cmd.BPF_MAP_UPDATE_ELEM: sys_map_update,
    Cmd.BPF_MAP_DELETE_ELEM: sys_map_delete,
    Cmd.BPF_MAP_GET_NEXT_KEY: sys_map_get_next_key,
    Cmd.BPF_MAP_FREEZE: sys_map_freeze,
    Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM: sys_map_lookup_and_delete,
    Cmd.BPF_MAP_LOOKUP_BATCH: sys_batch,
    Cmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH: sys_batch,
    Cmd.BPF_MAP_UPDATE_BATCH: sys_batch,
    Cmd.BPF_MAP_DELETE_BATCH: sys_batch,
    Cmd.BPF_PROG_LOAD: sys_prog_load,
    Cmd.BPF_PROG_TEST_RUN: sys_prog_test_run,
    Cmd.BPF_PROG_BIND_MAP: sys_prog_bind_map,
    Cmd.BPF_ENABLE_STATS: _sys_enable_stats,
    Cmd.BPF_PROG_ASSOC_STRUCT_OPS: sys_prog_assoc_struct_ops,
    Cmd.BPF_BTF_LOAD: sys_btf_load,
    Cmd.BPF_LINK_CREATE: sys_link_create,
    Cmd.BPF_LINK_UPDATE: sys_link_update,
    Cmd.BPF_LINK_DETACH: sys_link_detach,
    Cmd.BPF_OBJ_PIN: sys_obj_pin,
    Cmd.BPF_OBJ_GET: sys_obj_get,
    Cmd.BPF_OBJ_GET_INFO_BY_FD: sys_obj_get_info,
    Cmd.BPF_MAP_GET_NEXT_ID: _next_id("map"),
    Cmd.BPF_PROG_GET_NEXT_ID: _next_id("prog"),
    Cmd.BPF_LINK_GET_NEXT_ID: _next_id("link"),
    Cmd.BPF_BTF_GET_NEXT_ID: _next_id("btf"),
    Cmd.BPF_MAP_GET_FD_BY_ID: _fd_by_id("map"),
    Cmd.BPF_PROG_GET_FD_BY_ID: _fd_by_id("prog"),
    Cmd.BPF_LINK_GET_FD_BY_ID: _fd_by_id("link"),
    Cmd.BPF_BTF_GET_FD_BY_ID: _fd_by_id("btf"),
}


def dispatch(proc: Process, cmd: Cmd | int, attr: A.Attr) -> int:
    """Run bpf(cmd, attr) for ``proc``."""
    handler = _DISPATCH.get(int(cmd))
    if handler is None:
        raise bpf_error(errno.EINVAL, f"bpf command {int(cmd)} is not supported by the embedded kernel")
    name = cmd.name if isinstance(cmd, Cmd) else str(cmd)
    try:
        return handler(proc, attr)
    except OSError as exc:
        if not getattr(exc, "op", ""):
            exc.op = name.lower()  # type: ignore[attr-defined]
        raise


def u32(data: bytes, off: int = 0) -> int:
    """Little-endian u32 at ``off``."""
    return int(struct.unpack_from("<I", data, off)[0])
