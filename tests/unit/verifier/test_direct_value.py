"""Direct map-value addresses in ``ld_imm64`` (BPF_PSEUDO_MAP_VALUE), resolved before the
verifier walks the program, as Linux 6.18's resolve_pseudo_ldimm64 does: an offset of
BPF_MAX_VAR_OFF (1 << 29) or more is refused first, then a map type without direct value
access, then the map's own rule (an ARRAY: one element only, ENOTSUPP otherwise, and an
offset inside the value).  A BPF_PSEUDO_MAP_FD load must leave the second imm zero.
Each row was observed on this machine's kernel; the same table runs on both backends."""

from __future__ import annotations

import errno
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "kernel"))

from realkernel import real_kernel_skip_reason

from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr, ProgLoadAttr
from structops.uapi import ENOTSUPP, Cmd, MapType, ProgType

ARRAY, HASH = MapType.BPF_MAP_TYPE_ARRAY, MapType.BPF_MAP_TYPE_HASH
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE = 1, 2

#: (map type, max_entries, src, second imm) -> (errno or 0, first log line)
CASES: list[tuple[MapType, int, int, int, int, str]] = [
    (ARRAY, 1, PSEUDO_MAP_VALUE, 0, 0, ""),
    (ARRAY, 1, PSEUDO_MAP_VALUE, 5, errno.EINVAL, "invalid access to map value pointer, value_size=1 off=5"),
    (ARRAY, 2, PSEUDO_MAP_VALUE, 0, ENOTSUPP, "invalid access to map value pointer, value_size=1 off=0"),
    (HASH, 1, PSEUDO_MAP_VALUE, 0, errno.EINVAL, "no direct value access support for this map type"),
    (ARRAY, 1, PSEUDO_MAP_VALUE, (1 << 29) - 1, errno.EINVAL,
     "invalid access to map value pointer, value_size=1 off=536870911"),
    (ARRAY, 1, PSEUDO_MAP_VALUE, 1 << 29, errno.EINVAL, "direct value offset of 536870912 is not allowed"),
    (HASH, 1, PSEUDO_MAP_VALUE, 1 << 30, errno.EINVAL, "direct value offset of 1073741824 is not allowed"),
    (ARRAY, 2, PSEUDO_MAP_VALUE, -1, errno.EINVAL, "direct value offset of 4294967295 is not allowed"),
    (ARRAY, 1, PSEUDO_MAP_FD, 4, errno.EINVAL, "unrecognized bpf_ld_imm64 insn"),
]  # fmt: skip

_SKIP = real_kernel_skip_reason()


@pytest.fixture(params=["embedded", pytest.param("linux", marks=[pytest.mark.linux, pytest.mark.skipif(
    _SKIP is not None, reason=_SKIP or "")])])  # fmt: skip
def kernel(request: pytest.FixtureRequest) -> Any:
    if request.param == "linux":
        from structops.linux import LinuxKernel

        return LinuxKernel()
    from structops.kernel.emulated import EmulatedKernel

    return EmulatedKernel()


@pytest.mark.parametrize(("mtype", "entries", "src", "off", "code", "line"), CASES)
def test_ld_imm64_map_value_is_resolved_before_the_walk(
    kernel: Any, mtype: MapType, entries: int, src: int, off: int, code: int, line: str
) -> None:
    fd = kernel.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(mtype, 4, 1, entries))
    insns = b"".join(
        struct.pack("<BBhi", *i)
        for i in [(0xB7, 0, 0, 0), (0x18, 0x01 | src << 4, 0, fd), (0, 0, 0, off), (0x95, 0, 0, 0)]
    )
    log = bytearray(4096)
    attr = ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, insns, log_buf=log, log_level=1)
    try:
        if code == 0:
            kernel.close(kernel.bpf(Cmd.BPF_PROG_LOAD, attr))
            return
        with pytest.raises(BpfError) as exc:
            kernel.bpf(Cmd.BPF_PROG_LOAD, attr)
        assert exc.value.errno == code
        text = bytes(log).split(b"\0", 1)[0].decode()
        assert text.splitlines()[0] == line  # no register state or insn line: nothing was walked
    finally:
        kernel.close(fd)
