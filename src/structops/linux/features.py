"""Feature probes of the running kernel, each with a human reason when something is missing.

Every probe returns a :class:`Probe` (truthy when the feature is there).  The kernel
probes issue one cheap, side-effect free ``bpf()`` call whose errno tells the answer:

* struct_ops maps: ``MAP_CREATE(type 26, btf_vmlinux_value_type_id=1)`` reaches the
  struct_ops allocator, which refuses the non-struct_ops type id with ENOTSUPP (524);
  a kernel without the map type says EINVAL first (spec LD2, observed §5 map table).
* struct_ops links: the same call with ``BPF_F_LINK``; kernels before link support
  reject the flag with EINVAL before looking at the type (spec 1.4, S2).
* ``BPF_PROG_ASSOC_STRUCT_OPS`` (cmd 38, spec §12): with ``prog_fd = -1`` a kernel that
  knows the command answers EBADF (A1.3); 6.18 answers EINVAL (unknown command).
* struct_ops types: ``bpf_struct_ops_<name>`` value structs in vmlinux BTF (observed §2).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

from structops.abi.attrs import MapCreateAttr, ProgAssocStructOpsAttr
from structops.abi.consts import ENOTSUPP, Cmd, MapFlags, MapType, errno_name
from structops.abi.protocol import Kernel
from structops.errors import BpfError

__all__ = [
    "CAP_BPF",
    "CAP_NET_ADMIN",
    "CAP_PERFMON",
    "CAP_SYS_ADMIN",
    "Probe",
    "effective_caps",
    "probe_all",
    "probe_btf",
    "probe_cap_bpf",
    "probe_prog_assoc_struct_ops",
    "probe_struct_ops_link",
    "probe_struct_ops_map",
    "probe_struct_ops_type",
    "struct_ops_types",
]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39

_BTF_KIND_STRUCT = 4
_VALUE_PREFIX = "bpf_struct_ops_"


@dataclass(frozen=True)
class Probe:
    """The answer of one probe: ``ok`` and a sentence saying what was seen or what is missing."""

    name: str
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{self.name}: {'yes' if self.ok else 'no'} ({self.reason})"


def probe_btf(path: Path = Path("/sys/kernel/btf/vmlinux")) -> Probe:
    """Kernel BTF is exposed at ``path`` (CONFIG_DEBUG_INFO_BTF)."""
    if path.is_file():
        return Probe("btf", True, f"{path} present")
    return Probe("btf", False, f"no kernel BTF at {path} (kernel built without CONFIG_DEBUG_INFO_BTF?)")


def effective_caps(status: Path = Path("/proc/self/status")) -> int:
    """The effective capability mask (``CapEff``) of this process; 0 if unreadable."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def probe_cap_bpf(status: Path = Path("/proc/self/status")) -> Probe:
    """CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), what struct_ops loads need (spec V1)."""
    caps = effective_caps(status)

    def has(cap: int) -> bool:
        return bool(caps >> cap & 1)

    if has(CAP_SYS_ADMIN) or (has(CAP_BPF) and has(CAP_PERFMON)):
        return Probe("cap_bpf", True, f"effective capabilities {caps:#x} include them")
    missing = [n for n, c in (("CAP_BPF", CAP_BPF), ("CAP_PERFMON", CAP_PERFMON)) if not has(c)]
    return Probe("cap_bpf", False, f"missing {' and '.join(missing)} (run as root or grant them)")


def _map_create_probe(k: Kernel, name: str, flags: int, what: str) -> Probe:
    attr = MapCreateAttr(MapType.BPF_MAP_TYPE_STRUCT_OPS, 4, 256, 1, map_flags=flags, btf_vmlinux_value_type_id=1)
    try:
        fd = k.bpf(Cmd.BPF_MAP_CREATE, attr)
    except BpfError as exc:
        code = exc.errno or 0
        if code == ENOTSUPP:
            return Probe(name, True, f"map_create reached the struct_ops allocator ({errno_name(code)})")
        if code in (errno.EPERM, errno.EACCES):
            return Probe(name, False, f"not permitted ({errno_name(code)}): CAP_BPF is needed to probe")
        return Probe(name, False, f"kernel has no {what} (map_create: {errno_name(code)})")
    except OSError as exc:
        return Probe(name, False, f"bpf() unavailable: {exc}")
    k.close(fd)
    return Probe(name, True, "map_create succeeded")


def probe_struct_ops_map(k: Kernel) -> Probe:
    """The kernel knows ``BPF_MAP_TYPE_STRUCT_OPS`` (26)."""
    return _map_create_probe(k, "struct_ops_map", 0, "BPF_MAP_TYPE_STRUCT_OPS")


def probe_struct_ops_link(k: Kernel) -> Probe:
    """The kernel accepts ``BPF_F_LINK`` struct_ops maps, i.e. struct_ops links (spec §10)."""
    return _map_create_probe(k, "struct_ops_link", MapFlags.BPF_F_LINK, "BPF_F_LINK struct_ops maps")


def probe_prog_assoc_struct_ops(k: Kernel) -> Probe:
    """The kernel knows ``BPF_PROG_ASSOC_STRUCT_OPS`` (cmd 38, spec §12; 6.18 does not)."""
    attr = ProgAssocStructOpsAttr(map_fd=0xFFFFFFFF, prog_fd=0xFFFFFFFF)
    name = "prog_assoc_struct_ops"
    try:
        k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, attr)
    except BpfError as exc:
        code = exc.errno or 0
        if code == errno.EBADF:
            return Probe(name, True, "command 38 looked up the prog fd (EBADF)")
        if code in (errno.EPERM, errno.EACCES):
            return Probe(name, False, f"not permitted ({errno_name(code)})")
        return Probe(name, False, f"kernel does not know bpf command 38 ({errno_name(code)})")
    except OSError as exc:
        return Probe(name, False, f"bpf() unavailable: {exc}")
    return Probe(name, True, "command 38 succeeded")


def struct_ops_types(vmlinux_btf: bytes) -> list[str]:
    """Names ``X`` offered as struct_ops: a STRUCT ``bpf_struct_ops_X`` with members
    ``common`` and ``data`` next to a STRUCT ``X`` (spec 2.2, observed §2)."""
    from structops import btf

    spec = btf.parse(vmlinux_btf)
    candidates = [
        spec.name_of(i)
        for i in range(1, len(spec))
        if spec.kind_of(i) == _BTF_KIND_STRUCT and spec.name_of(i).startswith(_VALUE_PREFIX)
    ]
    found = []
    for value_name in candidates:
        value = spec.find(value_name, btf.Struct)
        if [m.name for m in value.members] != ["common", "data"]:
            continue
        name = value_name.removeprefix(_VALUE_PREFIX)
        try:
            spec.find(name, btf.Struct)
        except KeyError:
            continue
        found.append(name)
    return sorted(set(found))


def probe_struct_ops_type(k: Kernel, name: str, types: list[str] | None = None) -> Probe:
    """struct_ops type ``name`` (``tcp_congestion_ops``, ``sched_ext_ops`` ...) is offered."""
    probe = f"struct_ops_type:{name}"
    if types is None:
        try:
            types = struct_ops_types(k.vmlinux_btf())
        except OSError as exc:
            return Probe(probe, False, f"cannot read kernel BTF: {exc}")
    if name in types:
        return Probe(probe, True, f"vmlinux BTF has {_VALUE_PREFIX}{name}")
    offered = ", ".join(types) or "none"
    return Probe(probe, False, f"vmlinux BTF has no {_VALUE_PREFIX}{name} (offered: {offered})")


def probe_all(k: Kernel, wanted_types: tuple[str, ...] = ("tcp_congestion_ops", "bpf_dummy_ops")) -> dict[str, Probe]:
    """Every probe, by name."""
    results = [
        probe_btf(),
        probe_cap_bpf(),
        probe_struct_ops_map(k),
        probe_struct_ops_link(k),
        probe_prog_assoc_struct_ops(k),
    ]
    try:
        types: list[str] | None = struct_ops_types(k.vmlinux_btf())
    except OSError:
        types = None
    results += [probe_struct_ops_type(k, name, types) for name in wanted_types]
    return {p.name: p for p in results}


if __name__ == "__main__":  # pragma: no cover - manual check
    from structops.linux.kernel import LinuxKernel

    for p in probe_all(LinuxKernel()).values():
        print(p)
