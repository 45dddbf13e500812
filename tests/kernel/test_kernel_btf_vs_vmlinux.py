"""The emulated kernel's BTF against the running kernel's /sys/kernel/btf/vmlinux.

Every named type of src/structops/kernel/data/vmlinux.btf must exist in the real
kernel BTF and agree with it (README.md of that directory defines the three kinds):

- faithful structs/unions: same size and the same members (name, type, bit offset,
  bitfield size), anonymous members compared recursively;
- opaque structs (one ``__opaque`` member): same size;
- subset structs (task_struct, sched_entity, cgroup, kernfs_node, module): each member exists in the real struct
  with the same type;
- typedefs, enums and FUNC prototypes (parameter names included) equal.

Types are compared by name, never by id. Needs only the BTF file, not root.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops import btf
from structops.kernel import kbtf
from structops.kernel.subsys.sched_ext.btf_names import SCX_TASK_MEMBERS, is_sched_ext_name

VMLINUX = Path("/sys/kernel/btf/vmlinux")
SUBSET = {"task_struct", "sched_entity", "cgroup", "kernfs_node", "module", "socket"}

pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF at /sys/kernel/btf/vmlinux")


def shape(t: btf.Type) -> str:
    """Render a type by names; anonymous structs/unions are expanded member by member."""
    if isinstance(t, btf.Void):
        return "void"
    if isinstance(t, btf.Pointer):
        return "*" + shape(t.target)
    if isinstance(t, btf.Const | btf.Volatile | btf.Restrict):
        return f"{type(t).__name__.lower()} {shape(t.type)}"
    if isinstance(t, btf.Array):
        return f"{shape(t.type)}[{t.nelems}]"
    if isinstance(t, btf.FuncProto):
        params = ",".join(shape(p.type) for p in t.params)
        return f"fn({params})->{shape(t.return_type)}"
    if isinstance(t, btf.Fwd):  # a declared-only struct names the real struct
        return ("union " if t.is_union else "struct ") + t.name
    if isinstance(t, btf.Struct | btf.Union):
        word = "union " if isinstance(t, btf.Union) else "struct "
        if t.name:
            return word + t.name
        inner = ";".join(f"{m.name}:{shape(m.type)}@{m.bit_offset}:{m.bitfield_size}" for m in t.members)
        return f"{word}{{{inner}}}/{t.size}"
    if isinstance(t, btf.Enum | btf.Enum64):
        return "enum " + t.name
    if isinstance(t, btf.Typedef | btf.Int):
        return t.name
    raise AssertionError(f"unexpected type {t!r}")


def members(t: btf.Struct | btf.Union) -> list[tuple[str, str, int, int]]:
    return [(m.name, shape(m.type), m.bit_offset, m.bitfield_size) for m in t.members]


@pytest.fixture(scope="module")
def ours() -> btf.Spec:
    return btf.parse(kbtf.vmlinux_btf_bytes())


@pytest.fixture(scope="module")
def real() -> btf.Spec:
    return btf.load_vmlinux(str(VMLINUX))


def named(ours: btf.Spec, cls: type[btf.Type]) -> list[btf.Type]:
    """Named types of ``cls``; sched_ext's are checked against a sched_ext vmlinux.h instead
    (this kernel has no CONFIG_SCHED_CLASS_EXT; tests/unit/sched_ext/test_scx_btf.py)."""
    return [
        t
        for t in ours.types[1:]
        if isinstance(t, cls) and getattr(t, "name", "") and not is_sched_ext_name(getattr(t, "name", ""))
    ]


def real_composite(real: btf.Spec, t: btf.Struct | btf.Union | btf.Fwd) -> btf.Struct | btf.Union:
    union = isinstance(t, btf.Union) or (isinstance(t, btf.Fwd) and t.is_union)
    found = real.find(t.name, btf.Union if union else btf.Struct)
    assert isinstance(found, btf.Struct | btf.Union)
    return found


def test_faithful_and_opaque_structs(ours: btf.Spec, real: btf.Spec) -> None:
    compared = set()
    for t in named(ours, btf.Struct) + named(ours, btf.Union):
        assert isinstance(t, btf.Struct | btf.Union)
        if t.name in SUBSET:
            continue
        r = real_composite(real, t)
        assert t.size == r.size, f"{t.name}: size {t.size} != real {r.size}"
        if [m.name for m in t.members] != ["__opaque"]:
            assert members(t) == members(r), t.name
        compared.add(t.name)
    # the structs the brief and the struct_ops core rely on are all compared in full
    assert {
        "sock_common",
        "sock",
        "inet_sock",
        "inet_connection_sock",
        "tcp_sock",
        "tcp_congestion_ops",
        "bpf_struct_ops_tcp_congestion_ops",
        "bpf_dummy_ops",
        "bpf_struct_ops_bpf_dummy_ops",
        "bpf_struct_ops_common_value",
        "bpf_struct_ops_value",
        "bpf_struct_ops_map",
        "ack_sample",
        "rate_sample",
    } <= compared


def test_subset_structs_have_only_real_members(ours: btf.Spec, real: btf.Spec) -> None:
    for name in sorted(SUBSET):
        t = ours.find(name, btf.Struct)
        r = real.find(name, btf.Struct)
        real_members = {m.name: m for m in r.members}
        for m in t.members:
            if name == "task_struct" and m.name in SCX_TASK_MEMBERS:
                continue  # sched_ext only (see named())
            assert m.name in real_members, f"{name}.{m.name} is not a real member"
            assert shape(m.type) == shape(real_members[m.name].type), f"{name}.{m.name}"
            assert m.bitfield_size == real_members[m.name].bitfield_size


def test_declared_only_structs_exist_in_the_kernel(ours: btf.Spec, real: btf.Spec) -> None:
    fwds = named(ours, btf.Fwd)
    assert fwds
    for t in fwds:
        assert isinstance(t, btf.Fwd)
        real_composite(real, t)  # KeyError if the kernel has no such struct/union


def test_typedefs(ours: btf.Spec, real: btf.Spec) -> None:
    for t in named(ours, btf.Typedef):
        assert isinstance(t, btf.Typedef)
        r = real.find(t.name, btf.Typedef)
        assert shape(t.type) == shape(r.type), t.name
        if isinstance(t.type, btf.Struct | btf.Union) and not t.type.name:
            assert isinstance(r.type, btf.Struct | btf.Union)
            assert members(t.type) == members(r.type), t.name


def test_enums(ours: btf.Spec, real: btf.Spec) -> None:
    for t in named(ours, btf.Enum):
        assert isinstance(t, btf.Enum)
        r = real.find(t.name, btf.Enum)
        assert t.size == r.size
        assert [(v.name, v.value) for v in t.values] == [(v.name, v.value) for v in r.values]


def test_ints_use_the_kernel_spellings(ours: btf.Spec, real: btf.Spec) -> None:
    for t in named(ours, btf.Int):
        assert isinstance(t, btf.Int)
        r = real.find(t.name, btf.Int)
        assert (t.size, t.encoding, t.bits) == (r.size, r.encoding, r.bits), t.name


def test_funcs_have_the_kernel_prototypes_and_parameter_names(ours: btf.Spec, real: btf.Spec) -> None:
    funcs = named(ours, btf.Func)
    assert len(funcs) >= 20
    for t in funcs:
        assert isinstance(t, btf.Func)
        r = real.find(t.name, btf.Func)
        got = [(p.name, shape(p.type)) for p in t.type.params]
        want = [(p.name, shape(p.type)) for p in r.type.params]
        assert got == want, t.name
        assert shape(t.type.return_type) == shape(r.type.return_type), t.name
