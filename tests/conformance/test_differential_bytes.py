"""Byte-level differential: the same object on both backends gives the same bytes (modulo ids).

Lookup values of struct_ops maps (L4: state, refcnt, name, prog ids in the slots),
``bpf_map_info`` fields, map and link fdinfo lines (C17, K7) and link info (K8) are
compared between the embedded kernel and the real Linux kernel for the same sequence of
API calls.  Ids (map, prog, BTF type ids) are replaced by their rank so that only the
structure is compared.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from realkernel import real_kernel_skip_reason

from structops.api import Collection, Map
from structops.kernel.attrs import InfoAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.uapi import Cmd

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def _linux() -> Kernel:
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    from structops.linux import LinuxKernel

    return LinuxKernel()


def _fdinfo(k: Kernel, fd: int) -> dict[str, str]:
    if isinstance(k, EmulatedKernel):
        text = k.root.fdinfo(fd)
    else:
        text = Path(f"/proc/self/fdinfo/{fd}").read_text()
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def _masked_value(c: Collection, m: Map) -> bytes:
    """The lookup value with each prog id replaced by the program's index in the object."""
    value = bytearray(m.lookup(0))
    by_id = {p.id: i + 1 for i, p in enumerate(sorted(c.programs.values(), key=lambda p: p.name))}
    data = 64
    for off in range(data, len(value), 8):
        (slot,) = struct.unpack_from("<Q", value, off)
        if slot in by_id:
            struct.pack_into("<Q", value, off, by_id[slot])
    return bytes(value)


def _map_info(k: Kernel, m: Map) -> tuple[int, ...]:
    info = InfoAttr(m.fd, bytearray(104))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    mtype, _id, ksize, vsize, maxe, flags = struct.unpack_from("<6I", info.info, 0)
    name = bytes(info.info[24:40]).split(b"\0", 1)[0]
    btf_id, key_tid, val_tid, _vml = struct.unpack_from("<4I", info.info, 64)
    return (mtype, ksize, vsize, maxe, flags, hash(name), int(btf_id > 0), key_tid, val_tid)


def _scenario(k: Kernel, obj: str, map_name: str) -> dict[str, object]:
    seen: dict[str, object] = {}
    with Collection.open(TESTDATA / f"{obj}.bpf.o").load(k) as c:
        m = c.maps[map_name]
        seen["init"] = _masked_value(c, m)
        seen["info"] = _map_info(k, m)
        fdi = _fdinfo(k, m.fd)
        seen["map_fdinfo"] = {
            key: fdi[key]
            for key in (
                "map_type",
                "key_size",
                "value_size",
                "max_entries",
                "map_flags",
                "map_extra",
                "memlock",
                "frozen",
            )
        }
        link = m.attach_struct_ops()
        seen["registered"] = _masked_value(c, m)
        if not link.is_legacy:
            info = link.info()
            seen["link_info"] = (info["type"], info["prog_id"], info["map_id"] == m.id)
            lfd = _fdinfo(k, link.fd)
            seen["link_fdinfo"] = (lfd["link_type"], lfd.get("map_id") == str(m.id), "prog_id" in lfd)
            link.detach()
            seen["detached_link_info"] = link.info()["map_id"]
            seen["detached_fdinfo_has_map"] = "map_id" in _fdinfo(k, link.fd)
        else:
            link.detach()
        seen["after"] = _masked_value(c, m)
        link.close()
    return seen


@pytest.mark.parametrize(
    ("obj", "map_name"), [("reno", "so_reno"), ("reno_legacy", "so_reno"), ("cubic_like", "so_cubic")]
)
def test_same_bytes_on_both_backends(obj: str, map_name: str) -> None:
    real = _linux()
    emb = _scenario(EmulatedKernel(), obj, map_name)
    lin = _scenario(real, obj, map_name)
    for key in lin:
        assert emb[key] == lin[key], key


def test_masking_keeps_differences_visible() -> None:
    """The comparison is not vacuous: different objects give different registered bytes."""
    a = _scenario(EmulatedKernel(), "reno", "so_reno")
    b = _scenario(EmulatedKernel(), "cubic_like", "so_cubic")
    assert a["registered"] != b["registered"]
    registered = a["registered"]
    assert isinstance(registered, bytes)
    assert struct.unpack_from("<iI", registered, 0) == (1, 3)  # refcnt 1 (the link), READY
