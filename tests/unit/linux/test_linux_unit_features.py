"""Feature probes decide from errno and say why (structops.linux.features)."""

from __future__ import annotations

import errno
from pathlib import Path

from structops.errors import bpf_error
from structops.kernel.attrs import Attr, MapCreateAttr
from structops.kernel.protocol import UserBuffer
from structops.linux import features as ft
from structops.uapi import ENOTSUPP, Cmd


class ErrnoKernel:
    """A kernel whose every bpf() call fails with one errno (or returns ``ret``)."""

    name = "fake"

    def __init__(self, code: int = 0, ret: int = 0) -> None:
        self.code, self.ret = code, ret
        self.calls: list[tuple[Cmd, Attr]] = []
        self.closed: list[int] = []

    def bpf(self, cmd: Cmd, attr: Attr) -> int:
        self.calls.append((cmd, attr))
        if self.code:
            raise bpf_error(self.code, op="fake")
        return self.ret

    def close(self, fd: int) -> None:
        self.closed.append(fd)

    def vmlinux_btf(self) -> bytes:
        raise bpf_error(errno.ENOENT, op="vmlinux btf")

    def module_btfs(self) -> dict[str, bytes]:
        return {}

    def alloc_user(self, size: int) -> UserBuffer:
        raise NotImplementedError


def test_struct_ops_map_probe_reads_errno() -> None:
    """ENOTSUPP = the struct_ops allocator ran; EINVAL = unknown map type; EPERM = no caps."""
    assert ft.probe_struct_ops_map(ErrnoKernel(ENOTSUPP))
    no = ft.probe_struct_ops_map(ErrnoKernel(errno.EINVAL))
    assert not no and "BPF_MAP_TYPE_STRUCT_OPS" in no.reason and "EINVAL" in no.reason
    perm = ft.probe_struct_ops_link(ErrnoKernel(errno.EPERM))
    assert not perm and "CAP_BPF" in perm.reason
    k = ErrnoKernel(ret=9)
    assert ft.probe_struct_ops_link(k) and k.closed == [9], "an unexpectedly created map is closed"
    cmd, attr = k.calls[0]
    assert cmd == Cmd.BPF_MAP_CREATE and isinstance(attr, MapCreateAttr) and attr.map_flags == 1 << 13


def test_prog_assoc_probe() -> None:
    """EBADF means command 38 exists (A1.3); EINVAL means it does not (Linux 6.18)."""
    assert ft.probe_prog_assoc_struct_ops(ErrnoKernel(errno.EBADF))
    missing = ft.probe_prog_assoc_struct_ops(ErrnoKernel(errno.EINVAL))
    assert not missing and "38" in missing.reason and "no" in str(missing)


def test_btf_and_caps(tmp_path: Path) -> None:
    """File-based probes: BTF presence and CapEff bits."""
    assert not ft.probe_btf(tmp_path / "vmlinux")
    (tmp_path / "vmlinux").write_bytes(b"x")
    assert ft.probe_btf(tmp_path / "vmlinux")
    status = tmp_path / "status"
    status.write_text(f"Name:\tx\nCapEff:\t{1 << ft.CAP_BPF:016x}\n")
    probe = ft.probe_cap_bpf(status)
    assert not probe and "CAP_PERFMON" in probe.reason and "CAP_BPF" not in probe.reason.split("missing")[1]
    status.write_text(f"CapEff:\t{(1 << ft.CAP_BPF) | (1 << ft.CAP_PERFMON):016x}\n")
    assert ft.probe_cap_bpf(status)
    status.write_text(f"CapEff:\t{1 << ft.CAP_SYS_ADMIN:016x}\n")
    assert ft.probe_cap_bpf(status)
    assert ft.effective_caps(tmp_path / "absent") == 0


def test_struct_ops_type_probe_without_btf() -> None:
    """No kernel BTF: the type probe says so instead of raising."""
    probe = ft.probe_struct_ops_type(ErrnoKernel(), "tcp_congestion_ops")
    assert not probe and "BTF" in probe.reason
    assert ft.probe_struct_ops_type(ErrnoKernel(), "x", ["x"])
    other = ft.probe_struct_ops_type(ErrnoKernel(), "sched_ext_ops", ["bpf_dummy_ops"])
    assert not other and "bpf_dummy_ops" in other.reason


def test_struct_ops_types_from_btf() -> None:
    """Offered types are the ``bpf_struct_ops_X`` wrappers next to a struct X (spec 2.2)."""
    from structops import btf
    from structops.kernel.kbtf import __file__ as kbtf_file

    raw = (Path(kbtf_file).parent / "data" / "vmlinux.btf").read_bytes()
    names = ft.struct_ops_types(raw)
    spec = btf.parse(raw)
    for name in names:
        value = spec.find("bpf_struct_ops_" + name, btf.Struct)
        assert [m.name for m in value.members] == ["common", "data"]
    assert "tcp_congestion_ops" in names
    assert "value" not in names and "map" not in names, "internal bpf_struct_ops_* structs are not types"
