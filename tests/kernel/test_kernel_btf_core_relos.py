"""CO-RE relocations of the testdata objects resolve the same against the emulated and the real BTF.

The objects in testdata/ are compiled against the real kernel's vmlinux.h. For each one,
`bpftool gen min_core_btf` keeps exactly the types and members its CO-RE relocations
resolve to. Done once against /sys/kernel/btf/vmlinux and once against the emulated
vmlinux.btf, the two results must name the same members with the same types. Offsets
must match too, except inside the subset structs (task_struct, cgroup, module), whose
offsets are the emulated kernel's own (see src/structops/kernel/data/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from structops import btf
from structops.kernel import kbtf

ROOT = Path(__file__).resolve().parents[2]
VMLINUX = Path("/sys/kernel/btf/vmlinux")
SUBSET = {"task_struct", "cgroup", "module"}
OBJECTS = sorted((ROOT / "testdata").glob("*.bpf.o"))

pytestmark = [
    pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF at /sys/kernel/btf/vmlinux"),
    pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed"),
]


def shape(t: btf.Type) -> str:
    """Render a type by names (anonymous structs/unions expanded; array index types ignored)."""
    if isinstance(t, btf.Void):
        return "void"
    if isinstance(t, btf.Pointer):
        return "*" + shape(t.target)
    if isinstance(t, btf.Const | btf.Volatile | btf.Restrict):
        return f"{type(t).__name__.lower()} {shape(t.type)}"
    if isinstance(t, btf.Array):
        return f"{shape(t.type)}[{t.nelems}]"
    if isinstance(t, btf.FuncProto):
        return "fn(" + ",".join(shape(p.type) for p in t.params) + ")->" + shape(t.return_type)
    if isinstance(t, btf.Fwd):
        return ("union " if t.is_union else "struct ") + t.name
    if isinstance(t, btf.Struct | btf.Union):
        word = "union " if isinstance(t, btf.Union) else "struct "
        if t.name:
            return word + t.name
        inner = ";".join(f"{m.name}:{shape(m.type)}@{m.bit_offset}:{m.bitfield_size}" for m in t.members)
        return f"{word}{{{inner}}}"
    return f"{type(t).__name__} {getattr(t, 'name', '')}"


def resolved_members(raw: bytes) -> dict[str, list[tuple[str, str, int, int]]]:
    """Named struct/union -> the members min_core_btf kept, as (name, type, bit offset, bits)."""
    spec = btf.parse(raw)
    out = {}
    for t in spec.types[1:]:
        if isinstance(t, btf.Struct | btf.Union) and t.name:
            subset = t.name in SUBSET
            out[t.name] = [(m.name, shape(m.type), -1 if subset else m.bit_offset, m.bitfield_size) for m in t.members]
    return out


def min_core_btf(source: Path, obj: Path, out: Path) -> bytes | None:
    done = subprocess.run(
        ["bpftool", "gen", "min_core_btf", str(source), str(out), str(obj)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return out.read_bytes() if done.returncode == 0 else None


@pytest.mark.parametrize("obj", OBJECTS, ids=[o.name for o in OBJECTS])
def test_core_relocations_resolve_alike(obj: Path, tmp_path: Path) -> None:
    real = min_core_btf(VMLINUX, obj, tmp_path / "real.btf")
    if real is None:
        pytest.skip(f"bpftool cannot compute the CO-RE BTF of {obj.name} even against the real kernel")
    ours_path = tmp_path / "vmlinux.btf"
    ours_path.write_bytes(kbtf.vmlinux_btf_bytes())
    ours = min_core_btf(ours_path, obj, tmp_path / "ours.btf")
    assert ours is not None, f"bpftool rejects the emulated BTF for {obj.name}"
    assert resolved_members(ours) == resolved_members(real)
