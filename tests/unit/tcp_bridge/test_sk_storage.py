"""BPF_MAP_TYPE_SK_STORAGE of the embedded kernel: creation rules, syscall side, storage."""

from __future__ import annotations

import errno

import pytest

from structops.btf import Int, IntEncoding, encode
from structops.errors import BpfError
from structops.kernel.attrs import BtfLoadAttr, MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.maps.sk_storage import BPF_SK_STORAGE_GET_F_CREATE, SkStorageMap
from structops.uapi import ENOTSUPP, Cmd, MapFlags, MapType

SK = int(MapType.BPF_MAP_TYPE_SK_STORAGE)
NOPRE = int(MapFlags.BPF_F_NO_PREALLOC)


#: Key ``int`` (id 1) and value ``u64`` (id 2): the BTF the kernel requires for local storage.
_BTF = encode([Int("int", 4, IntEncoding.SIGNED), Int("u64", 8)])


def _create(kernel: EmulatedKernel, **kw: int) -> int:
    btf = bool(kw.pop("btf", 1))
    args = {"key_size": 4, "value_size": 8, "max_entries": 0, "map_flags": NOPRE}
    args.update(kw)
    btf_fd = kernel.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=_BTF)) if btf else 0
    try:
        return kernel.bpf(
            Cmd.BPF_MAP_CREATE,
            MapCreateAttr(
                SK,
                args["key_size"],
                args["value_size"],
                args["max_entries"],
                map_flags=args["map_flags"],
                btf_fd=btf_fd,
                btf_key_type_id=1 if btf else 0,
                btf_value_type_id=2 if btf else 0,
            ),
        )
    finally:
        if btf_fd:
            kernel.close(btf_fd)


def test_creation_needs_key_and_value_btf(kernel: EmulatedKernel) -> None:
    """bpf_local_storage_map_alloc_check: no BTF key/value type ids is EINVAL (issue 11)."""
    with pytest.raises(BpfError) as exc:
        _create(kernel, btf=0)
    assert exc.value.errno == errno.EINVAL


@pytest.mark.parametrize(
    ("kw", "err"),
    [
        ({"map_flags": 0}, errno.EINVAL),  # BPF_F_NO_PREALLOC is required
        ({"max_entries": 1}, errno.EINVAL),
        ({"key_size": 8}, errno.EINVAL),
        ({"value_size": 0}, errno.EINVAL),
        ({"map_flags": NOPRE | int(MapFlags.BPF_F_RDONLY)}, errno.EINVAL),
        ({"value_size": 1 << 16}, errno.E2BIG),
    ],
)
def test_creation_rules(kernel: EmulatedKernel, kw: dict[str, int], err: int) -> None:
    """bpf_local_storage_map_alloc_check."""
    with pytest.raises(BpfError) as exc:
        _create(kernel, **kw)
    assert exc.value.errno == err


def test_syscall_side_needs_socket_fds(kernel: EmulatedKernel) -> None:
    """Keys are socket fds (none here: EBADF); get_next_key is ENOTSUPP."""
    fd = _create(kernel)
    with pytest.raises(BpfError) as exc:
        kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=bytes(4), value=bytearray(8)))
    assert exc.value.errno == errno.EBADF
    with pytest.raises(BpfError) as exc:
        kernel.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=None, value=bytearray(4)))
    assert exc.value.errno == ENOTSUPP
    kernel.close(fd)


def test_storage_get_create_delete(kernel: EmulatedKernel) -> None:
    """get without F_CREATE misses; with it allocates (zeroed or from init); delete frees."""
    fd = _create(kernel)
    m = next(o for o in kernel.ids["map"] if isinstance(o, SkStorageMap))
    sk = kernel.kmem.alloc(64, "sock").addr
    assert m.storage_get(sk, None, 0) == 0
    assert m.storage_get(sk, None, 0x2) == 0  # unknown flag bits -> NULL
    assert m.storage_get(0, None, BPF_SK_STORAGE_GET_F_CREATE) == 0
    addr = m.storage_get(sk, b"\x07" * 8, BPF_SK_STORAGE_GET_F_CREATE)
    assert addr and kernel.kmem.find(addr) is not None
    assert m.storage_get(sk, None, BPF_SK_STORAGE_GET_F_CREATE) == addr  # same storage again
    assert m.value_of(sk) == b"\x07" * 8
    assert m.storage_delete(sk) == 0
    assert m.storage_delete(sk) == -errno.ENOENT
    kernel.rcu.synchronize()
    assert kernel.kmem.find(addr) is None
    kernel.close(fd)
