"""The ABI tables of ``structops.abi`` match the running kernel's BTF.

Every field offset of every ``union bpf_attr`` group the attrs pack is compared with the
member offset in the kernel's own BTF, and each group's size (``END``, where ``tail``
bytes go) must lie past the kernel's last field of that command group, so tail probes
really hit the "unused bytes must be zero" check (C1, U0a; observed §5:
sizeof(union bpf_attr) = 168).  The ``bpf_*_info`` tables are compared the same way,
and their sizes must equal the kernel's struct sizes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops import btf
from structops.abi import attrs as A
from structops.abi import tables as T
from structops.abi.consts import BPF_ATTR_SIZE
from structops.abi.layout import Layout

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

#: Info table -> (kernel struct, our field name -> dotted kernel member path where they differ).
INFOS: dict[str, tuple[Layout, str, dict[str, str]]] = {
    "map": (T.MAP_INFO, "bpf_map_info", {}),
    "prog": (T.PROG_INFO, "bpf_prog_info", {}),
    "link": (T.LINK_INFO, "bpf_link_info", {"map_id": "struct_ops.map_id"}),
    "btf": (T.BTF_INFO, "bpf_btf_info", {}),
}


def _flatten(t: btf.Type, base: int, out: dict[str, tuple[int, int]], prefix: str = "") -> None:
    """Member name (and dotted path) -> (offset, end) through anonymous and named sub-structs."""
    t = btf.underlying(t)
    for m in getattr(t, "members", ()):
        off = base + m.offset
        path = f"{prefix}{m.name}" if m.name else prefix.rstrip(".")
        if m.name:
            out.setdefault(m.name, (off, off + btf.sizeof(m.type)))
            out.setdefault(path, (off, off + btf.sizeof(m.type)))
        mt = btf.underlying(m.type)
        if isinstance(mt, (btf.Struct, btf.Union)):
            _flatten(mt, off, out, f"{path}." if m.name else prefix)


@pytest.fixture(scope="module")
def spec() -> btf.Spec:
    return btf.parse(VMLINUX.read_bytes())


@pytest.fixture(scope="module")
def groups(spec: btf.Spec) -> list[tuple[str, dict[str, tuple[int, int]]]]:
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
    """Each table offset and size equals the kernel member's; END is past the group's last field."""
    key = GROUPS[cls]
    matches = [fields for name, fields in groups if name == key or key in fields]
    assert matches, f"no bpf_attr group has {key}"
    fields = matches[0]
    for f in cls.LAYOUT:
        kname = ALIASES.get(f.name, f.name)
        assert kname in fields, f"{cls.__name__}.{f.name}: kernel has no {kname}"
        start, end = fields[kname]
        assert (start, end - start) == (f.offset, f.size), f"{cls.__name__}.{f.name}"
    if cls is not A.MapFreezeAttr:  # FREEZE shares the elem group but checks only map_fd
        assert max(end for _off, end in fields.values()) <= cls.END, cls.__name__


@pytest.mark.parametrize("which", list(INFOS))
def test_info_layouts_match_kernel(which: str, spec: btf.Spec) -> None:
    """bpf_map_info / bpf_prog_info / bpf_link_info / bpf_btf_info: every field and the size."""
    layout, cname, aliases = INFOS[which]
    struct = spec.find(cname, btf.Struct)
    assert btf.sizeof(struct) == layout.size, cname
    fields: dict[str, tuple[int, int]] = {}
    _flatten(struct, 0, fields)
    bitfields = {m.name for m in struct.members if m.bitfield_size}
    for f in layout:
        kname = aliases.get(f.name, f.name)
        assert kname in fields, f"{cname}.{f.name}: kernel has no {kname}"
        start, end = fields[kname]
        assert start == f.offset, f"{cname}.{f.name}"
        if kname not in bitfields:
            assert end - start == f.size, f"{cname}.{f.name}"
