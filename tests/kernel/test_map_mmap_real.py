"""``LinuxKernel.map_mmap`` (used for BPF arenas) on the real kernel: a BPF_F_MMAPABLE array
mapped into user memory shares its bytes with the map; skipped without the real bpf()."""

from __future__ import annotations

import pytest
from realkernel import real_kernel_skip_reason

from structops.kernel.attrs import MapCreateAttr, MapElemAttr
from structops.uapi import Cmd, MapFlags, MapType

_SKIP = real_kernel_skip_reason()
pytestmark = [pytest.mark.linux, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


def test_mmapable_array_shares_its_bytes_with_the_mapping() -> None:
    from structops.linux import LinuxKernel

    k = LinuxKernel()
    attr = MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4, map_flags=MapFlags.BPF_F_MMAPABLE)
    fd = k.bpf(Cmd.BPF_MAP_CREATE, attr)
    try:
        m = k.map_mmap(fd, 4096)
        m.write((0x1122334455667788).to_bytes(8, "little"), 8)  # element 1
        out = bytearray(8)
        k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=(1).to_bytes(4, "little"), value=out))
        assert bytes(out) == (0x1122334455667788).to_bytes(8, "little")
        k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=(2).to_bytes(4, "little"), value=b"abcdefgh"))
        assert m.read(16, 8) == b"abcdefgh"
        with pytest.raises(ValueError, match="outside"):
            m.read(4090, 8)
        m.close()
        with pytest.raises(ValueError, match="closed"):
            m.read(0, 1)
    finally:
        k.close(fd)


def test_a_map_that_cannot_be_mapped_is_a_bpf_error() -> None:
    from structops.errors import BpfError
    from structops.linux import LinuxKernel

    k = LinuxKernel()
    fd = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_HASH, 4, 8, 4))
    try:
        with pytest.raises(BpfError):
            k.map_mmap(fd, 4096)
    finally:
        k.close(fd)
