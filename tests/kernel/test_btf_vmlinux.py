"""The BTF library on the running kernel's /sys/kernel/btf/vmlinux.

Compared with bpftool's listing of the same file (when bpftool is installed), with the
bpf() attribute layouts in structops.kernel.attrs, and with clang compiling our C dump.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from structops import btf
from structops.btf.rawdump import dump_raw, raw_lines
from structops.kernel import attrs

VMLINUX = Path("/sys/kernel/btf/vmlinux")
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF at /sys/kernel/btf/vmlinux")
BPFTOOL = shutil.which("bpftool")
CLANG = shutil.which("clang-19") or shutil.which("clang")


@pytest.fixture(scope="module")
def vmlinux() -> btf.Spec:
    return btf.load_vmlinux(VMLINUX)


@pytest.fixture(scope="module")
def bpftool_listing() -> dict[int, list[str]]:
    """bpftool's raw listing of vmlinux, as lines per type id."""
    if BPFTOOL is None:
        pytest.skip("bpftool not installed")
    text = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(VMLINUX)], check=True, capture_output=True, text=True
    ).stdout
    blocks: dict[int, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        m = re.match(r"\[(\d+)\] ", line)
        if m:
            current = blocks.setdefault(int(m.group(1)), [])
        current.append(line)
    return blocks


def test_load_vmlinux_is_cached(vmlinux: btf.Spec) -> None:
    assert btf.load_vmlinux(VMLINUX) is vmlinux
    assert len(vmlinux) > 1000 and vmlinux.split_base is None


@pytest.mark.parametrize("name", ["tcp_congestion_ops", "bpf_struct_ops_tcp_congestion_ops", "bpf_dummy_ops"])
def test_struct_listing_matches_bpftool(vmlinux: btf.Spec, bpftool_listing: dict[int, list[str]], name: str) -> None:
    t = vmlinux.find(name, btf.Struct)
    assert raw_lines(vmlinux, t) == bpftool_listing[vmlinux.type_id(t)]
    for m in t.members:  # and every type one step away
        tid = vmlinux.type_id(m.type)
        assert raw_lines(vmlinux, m.type) == bpftool_listing[tid]


def test_sampled_types_match_bpftool(vmlinux: btf.Spec, bpftool_listing: dict[int, list[str]]) -> None:
    assert len(bpftool_listing) == len(vmlinux) - 1
    for tid in range(1, len(vmlinux), 97):
        assert raw_lines(vmlinux, vmlinux.types[tid]) == bpftool_listing[tid]


def test_tcp_congestion_ops_layout(vmlinux: btf.Spec) -> None:
    ops = vmlinux.find("tcp_congestion_ops", btf.Struct)
    wrapper = vmlinux.find("bpf_struct_ops_tcp_congestion_ops", btf.Struct)
    assert [m.name for m in wrapper.members] == ["common", "data"]
    assert wrapper.member("data").type is ops
    assert btf.member_offset(wrapper, "data") % btf.alignof(ops) == 0
    assert btf.is_func_pointer(ops.member("ssthresh").type)
    name = btf.underlying(ops.member("name").type)
    assert isinstance(name, btf.Array) and btf.sizeof(name) == 16
    if os.uname().release.startswith("6.18"):  # kernel-6.18-observed.md section 2
        assert ops.size == 192 and len(ops.members) == 18
        assert wrapper.size == 256 and btf.member_offset(wrapper, "data") == 64
        assert {m.name: m.offset for m in ops.members}["init"] == 136
        assert btf.member_offset(ops, "name") == 88 and btf.member_offset(ops, "flags") == 132


_ATTR_GROUPS = [
    (attrs.MapCreateAttr, None),
    (attrs.ProgLoadAttr, None),
    (attrs.TestRunAttr, "test"),
    (attrs.InfoAttr, "info"),
    (attrs.LinkCreateAttr, "link_create"),
    (attrs.LinkUpdateAttr, "link_update"),
]


@pytest.mark.parametrize(("cls", "member"), _ATTR_GROUPS, ids=[c.__name__ for c, _ in _ATTR_GROUPS])
def test_bpf_attr_layouts_match_kernel(vmlinux: btf.Spec, cls: type, member: str | None) -> None:
    attr = vmlinux.find("bpf_attr", btf.Union)
    layout = cls.LAYOUT  # type: ignore[attr-defined]
    if member is not None:
        group = attr.member(member).type
    else:  # an anonymous struct: the one holding the first field
        group = next(m.type for m in attr.members if not m.name and _has(m.type, layout[0].name))
    for field in layout:
        kernel_name = _KERNEL_NAMES.get((cls.__name__, field.name), field.name)
        assert btf.member_offset(group, kernel_name) == field.offset, field.name


#: attrs.py names that differ from the kernel's (a union member picked for struct_ops maps).
_KERNEL_NAMES = {("LinkUpdateAttr", "new_fd"): "new_map_fd", ("LinkUpdateAttr", "old_fd"): "old_map_fd"}


def _has(t: btf.Type, name: str) -> bool:
    try:
        btf.member_offset(t, name)
    except KeyError:
        return False
    return True


def test_encode_roundtrip_keeps_every_type(vmlinux: btf.Spec) -> None:
    blob = btf.encode(vmlinux)
    again = btf.parse(blob, validate=False)
    assert len(again) == len(vmlinux)
    assert list(dump_raw(again)) == list(dump_raw(vmlinux))


def test_c_dump_compiles_with_kernel_layout(vmlinux: btf.Spec, tmp_path: Path) -> None:
    if CLANG is None:
        pytest.skip("clang not installed")
    roots = [
        vmlinux.find("bpf_struct_ops_tcp_congestion_ops", btf.Struct),
        vmlinux.find("bpf_dummy_ops", btf.Struct),
        vmlinux.find("bpf_attr", btf.Union),
    ]
    checks = []
    for t in [*roots, roots[0].member("data").type]:
        assert isinstance(t, btf.Struct | btf.Union)
        kw = "union" if isinstance(t, btf.Union) else "struct"
        checks.append(f'_Static_assert(sizeof({kw} {t.name}) == {t.size}, "size");')
        for m in t.members:
            if m.name and not m.bitfield_size:
                checks.append(f'_Static_assert(__builtin_offsetof({kw} {t.name}, {m.name}) == {m.offset}, "{m.name}");')
    path = tmp_path / "vmlinux_part.c"
    path.write_text(btf.dump_c(vmlinux, roots) + "\n".join(checks) + "\n")
    res = subprocess.run([CLANG, "-fsyntax-only", "-Wall", "-Werror", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[:4000]
