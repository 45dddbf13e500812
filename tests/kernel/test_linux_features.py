"""Feature probes on the running kernel (structops.linux.features; observed §0, §2; spec §12)."""

from __future__ import annotations

import errno
import os
import platform
from pathlib import Path

import pytest

from structops import btf
from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr
from structops.linux import LinuxKernel
from structops.linux import features as ft
from structops.uapi import ENOTSUPP, Cmd, MapType

VMLINUX = Path("/sys/kernel/btf/vmlinux")
pytestmark = [
    pytest.mark.linux,
    pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF at /sys/kernel/btf/vmlinux"),
    pytest.mark.skipif(os.geteuid() != 0, reason="not root: the bpf() probes need CAP_BPF"),
]


def test_probe_all_on_this_kernel() -> None:
    """BTF, caps, struct_ops maps and links are present on the project machines (observed §0)."""
    probes = ft.probe_all(LinuxKernel())
    for name in ("btf", "cap_bpf", "struct_ops_map", "struct_ops_link", "struct_ops_type:tcp_congestion_ops"):
        assert probes[name], str(probes[name])
    assoc = probes["prog_assoc_struct_ops"]
    if platform.release().startswith("6.18"):
        assert not assoc and "EINVAL" in assoc.reason, "6.18 lacks BPF_PROG_ASSOC_STRUCT_OPS (spec 1.3)"


def test_map_probe_premise_flags_checked_before_type() -> None:
    """The link probe relies on unknown map_flags failing EINVAL before the type lookup (524)."""
    k = LinuxKernel()

    def create(flags: int) -> int:
        attr = MapCreateAttr(MapType.BPF_MAP_TYPE_STRUCT_OPS, 4, 256, 1, map_flags=flags, btf_vmlinux_value_type_id=1)
        try:
            fd = k.bpf(Cmd.BPF_MAP_CREATE, attr)
        except BpfError as exc:
            return exc.errno or 0
        k.close(fd)
        return 0

    assert create(0) == ENOTSUPP
    assert create(1 << 20) == errno.EINVAL


def test_struct_ops_types_exclude_internal_structs() -> None:
    """Offered types are the wrappers; internal ``bpf_struct_ops_map`` / ``_value`` are not (observed §2)."""
    raw = VMLINUX.read_bytes()
    names = ft.struct_ops_types(raw)
    assert {"tcp_congestion_ops", "bpf_dummy_ops"} <= set(names)
    spec = btf.parse(raw)
    for internal in ("map", "value", "link"):
        spec.find("bpf_struct_ops_" + internal, btf.Struct)  # exists in the kernel ...
        assert internal not in names  # ... but is not a struct_ops type
