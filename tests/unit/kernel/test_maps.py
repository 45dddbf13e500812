"""ARRAY and HASH maps of the embedded kernel: syscall-side errnos and program-side addresses."""

from __future__ import annotations

import errno
import struct

import pytest
import test_linux_scenarios as S

from structops.kernel.attrs import MapCreateAttr, MapElemAttr, MapFreezeAttr
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd, MapFlags, MapType


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


def _key(i: int) -> bytes:
    return struct.pack("<I", i)


def test_array_create_checks(k: EmulatedKernel) -> None:
    for attr in (
        MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 8, 8, 4),
        MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 0, 4),
        MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 0),
        MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4, map_flags=int(MapFlags.BPF_F_NO_PREALLOC)),
        MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4, map_name="bad name"),
    ):
        S.expect_errno(errno.EINVAL, lambda a=attr: k.bpf(Cmd.BPF_MAP_CREATE, a))
    assert k.live_objects()["map"] == []


def test_array_elements(k: EmulatedKernel) -> None:
    fd = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 12, 3, map_name="arr"))
    out = bytearray(12)
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=_key(2), value=out))
    assert out == bytes(12)  # preallocated, zeroed
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=_key(1), value=b"x" * 12))
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=_key(1), value=out))
    assert out == b"x" * 12
    S.expect_errno(errno.E2BIG, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=_key(3), value=b"y" * 12)))
    S.expect_errno(
        errno.EEXIST, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=_key(0), value=b"y" * 12, flags=1))
    )
    S.expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=_key(3), value=out)))
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=_key(0))))
    nxt = bytearray(4)
    k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=_key(1), value=nxt))
    assert nxt == _key(2)
    S.expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=_key(2), value=nxt)))
    m, _ = k.root.get_map(fd)
    assert k.kmem.space.read(m.prog_lookup(_key(1)), 12) == b"x" * 12  # programs see the same bytes
    k.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(fd))
    S.expect_errno(errno.EPERM, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=_key(1), value=b"z" * 12)))
    S.expect_errno(errno.EBUSY, lambda: k.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(fd)))
    assert "map_type:\t2\n" in k.root.fdinfo(fd) and "frozen:\t1\n" in k.root.fdinfo(fd)
    k.close(fd)
    assert k.live_objects()["map"] == []


def test_hash_elements_and_deferred_free(k: EmulatedKernel) -> None:
    fd = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_HASH, 8, 4, 2))
    a, b, c = (struct.pack("<Q", i) for i in (10, 20, 30))
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=a, value=b"AAAA"))
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=b, value=b"BBBB", flags=1))
    S.expect_errno(errno.E2BIG, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=c, value=b"CCCC")))
    S.expect_errno(errno.EEXIST, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=a, value=b"xxxx", flags=1)))
    S.expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=c, value=b"xxxx", flags=2)))
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=c, value=b"xxxx", flags=9)))
    nxt = bytearray(8)
    k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=None, value=nxt))
    assert bytes(nxt) in (a, b)
    m, _ = k.root.get_map(fd)
    addr = m.prog_lookup(a)
    with k.rcu.read_lock():  # a program holding the value pointer
        k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=a))
        assert k.kmem.space.read(addr, 4) == b"AAAA"  # still readable inside the read section
    from structops.errors import VMFault

    with pytest.raises(VMFault):
        k.kmem.space.read(addr, 4)  # freed after the grace period: faults
    S.expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=a)))
    k.close(fd)
    assert k.live_objects()["map"] == []


def test_fdinfo_of_progs_and_btf(k: EmulatedKernel) -> None:
    env = S.resolve_env(k.vmlinux_btf())
    with S.tracked(k) as t:
        fd = S.load_struct_ops_prog(k, t, env.tcp_ops, "ssthresh", S.prog_ssthresh(env))
        text = k.root.fdinfo(fd)
        assert "prog_type:\t27\n" in text and f"prog_id:\t{S.obj_id(k, fd, S.OBJ_PROG)}\n" in text
        assert "prog_tag:\t" in text and "flags:\t02000002\n" in text
        btf_fd = S.load_user_btf(k, t)
        assert f"btf_id:\t{S.obj_id(k, btf_fd, S.OBJ_BTF)}\n" in k.root.fdinfo(btf_fd)
