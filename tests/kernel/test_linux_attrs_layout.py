"""``structops.kernel.attrs`` layouts match the running kernel's ``union bpf_attr`` (BTF).

Every field offset of every attr the Linux backend packs is compared with the member
offset in the kernel's own BTF, and each attr's ``END`` (where ``tail`` bytes go) must lie
past the kernel's last field of that command group, so tail probes really hit the
"unused bytes must be zero" check (C1, U0a; observed §5: sizeof(union bpf_attr) = 168).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops import btf
from structops.kernel import attrs as A
from structops.uapi import BPF_ATTR_SIZE

VMLINUX = Path("/sys/kernel/btf/vmlinux")
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF at /sys/kernel/btf/vmlinux")

#: Our field name -> kernel member name where they differ (the kernel's names are unions).
ALIASES = {"id": "start_id", "token_fd": "fd_by_id_token_fd", "new_fd": "new_map_fd", "old_fd": "old_map_fd"}

#: Attr class -> a member name that identifies its group inside union bpf_attr.
GROUPS: dict[type[A.Attr], str] = {
    A.MapCreateAttr: "map_type",
    A.MapElemAttr: "key",
    A.MapFreezeAttr: "key",
    A.ProgLoadAttr: "prog_type",
    A.ObjPinAttr: "pathname",
    A.TestRunAttr: "test",
    A.GetIdAttr: "next_id",
    A.InfoAttr: "info",
    A.BtfLoadAttr: "btf_log_buf",
    A.LinkCreateAttr: "link_create",
    A.LinkUpdateAttr: "link_update",
    A.LinkDetachAttr: "link_detach",
    A.ProgBindMapAttr: "prog_bind_map",
}


def _flatten(t: btf.Type, base: int, out: dict[str, tuple[int, int]]) -> None:
    """Member name -> (offset, end) through anonymous structs/unions and named sub-structs."""
    t = btf.underlying(t)
    for m in getattr(t, "members", ()):
        off = base + m.offset
        if m.name:
            out.setdefault(m.name, (off, off + btf.sizeof(m.type)))
        mt = btf.underlying(m.type)
        if isinstance(mt, (btf.Struct, btf.Union)):
            _flatten(mt, off, out)


@pytest.fixture(scope="module")
def groups() -> list[tuple[str, dict[str, tuple[int, int]]]]:
    spec = btf.parse(VMLINUX.read_bytes())
    union = spec.find("bpf_attr", btf.Union)
    assert btf.sizeof(union) == BPF_ATTR_SIZE
    found = []
    for m in union.members:
        fields: dict[str, tuple[int, int]] = {}
        _flatten(m.type, m.offset, fields)
        found.append((m.name, fields))
    return found


@pytest.mark.parametrize("cls", list(GROUPS), ids=lambda c: c.__name__)
def test_offsets_match_kernel(cls: type[A.Attr], groups: list[tuple[str, dict[str, tuple[int, int]]]]) -> None:
    """Each LAYOUT offset equals the kernel member offset; END is past the group's last field."""
    key = GROUPS[cls]
    matches = [fields for name, fields in groups if name == key or key in fields]
    assert matches, f"no bpf_attr group has {key}"
    fields = matches[0]
    for spec in cls.LAYOUT:
        kname = ALIASES.get(spec.name, spec.name)
        assert kname in fields, f"{cls.__name__}.{spec.name}: kernel has no {kname}"
        assert fields[kname][0] == spec.offset, f"{cls.__name__}.{spec.name}"
    if cls is not A.MapFreezeAttr:  # FREEZE shares the elem group but checks only map_fd
        assert max(end for _off, end in fields.values()) <= cls.END, cls.__name__
