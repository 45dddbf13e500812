"""The emulated bpf_testmod module BTF: split BTF on top of the emulated vmlinux.

What the module must offer is from reference/selftests-libbpf-bpftool.md A.0 and the
scenarios that use it (multi_pages #40, unsupported_ops #31, maybe_null, refcounted #47).
"""

from __future__ import annotations

import pytest

from structops import btf
from structops.kernel import kbtf


@pytest.fixture(scope="module")
def base() -> btf.Spec:
    return btf.parse(kbtf.vmlinux_btf_bytes())


@pytest.fixture(scope="module")
def mod(base: btf.Spec) -> btf.Spec:
    return btf.parse(kbtf.testmod_btf_bytes(), base=base)


def own_types(mod: btf.Spec) -> list[btf.Type]:
    return [mod.type_by_id(i) for i in range(mod.first_id, len(mod))]


def test_is_split_btf_continuing_the_base_ids(base: btf.Spec, mod: btf.Spec) -> None:
    """Module BTF ids start right after vmlinux's last id, like /sys/kernel/btf/<module>."""
    assert mod.split_base is base
    assert mod.first_id == len(base)
    assert len(mod) > len(base)
    assert kbtf.TESTMOD_NAME == "bpf_testmod"


def test_split_blob_does_not_parse_alone() -> None:
    """Without its base the split blob references unknown ids: a clear BTFError, not garbage."""
    with pytest.raises(btf.BTFError):
        btf.parse(kbtf.testmod_btf_bytes())


def test_shared_types_resolve_into_the_base(base: btf.Spec, mod: btf.Spec) -> None:
    """task_struct, module and the common value are the base's types, not module copies."""
    own_names = {getattr(t, "name", "") for t in own_types(mod)}
    for name in ("task_struct", "cgroup", "module", "bpf_struct_ops_common_value", "int"):
        assert name not in own_names
    value = mod.find("bpf_struct_ops_bpf_testmod_ops", btf.Struct)
    assert value.members[0].type is base.find("bpf_struct_ops_common_value", btf.Struct)
    maybe_null = mod.find("bpf_testmod_ops__test_maybe_null", btf.Func)
    task_ptr = maybe_null.type.params[1].type
    assert isinstance(task_ptr, btf.Pointer)
    assert task_ptr.target is base.find("task_struct", btf.Struct)


def test_testmod_ops_members(mod: btf.Spec) -> None:
    """bpf_testmod_ops: the test ops, the scalar fields for shadow copies, and tramp_1..tramp_40."""
    ops = mod.find("bpf_testmod_ops", btf.Struct)
    names = [m.name for m in ops.members]
    assert names[:9] == [
        "test_1",
        "test_2",
        "test_maybe_null",
        "unsupported_ops",
        "test_refcounted",
        "test_return_ref_kptr",
        "onebyte",
        "unsupported",
        "data",
    ]
    assert names[9:] == [f"tramp_{i}" for i in range(1, 41)]
    tramp_offsets = [m.offset for m in ops.members[9:]]
    assert tramp_offsets == list(range(tramp_offsets[0], tramp_offsets[0] + 8 * 40, 8))
    # more than 40 function-pointer members: enough trampolines to cross a 4 KiB page (#40)
    fn_members = [
        m.name for m in ops.members if isinstance(m.type, btf.Pointer) and isinstance(m.type.target, btf.FuncProto)
    ]
    assert len(fn_members) == 6 + 40
    assert "onebyte" not in fn_members and "data" not in fn_members


@pytest.mark.parametrize(
    ("name", "data_type"),
    [
        ("bpf_struct_ops_bpf_testmod_ops", "bpf_testmod_ops"),
        ("bpf_struct_ops_bpf_testmod_ops2", "bpf_testmod_ops2"),
        ("bpf_struct_ops_bpf_testmod_ops3", "bpf_testmod_ops3"),
        ("bpf_struct_ops_bpf_testmod_st_ops", "bpf_testmod_st_ops"),
        ("bpf_struct_ops_bpf_testmod_multi_st_ops", "bpf_testmod_multi_st_ops"),
    ],
)
def test_value_types(mod: btf.Spec, name: str, data_type: str) -> None:
    value = mod.find(name, btf.Struct)
    assert [(m.name, m.offset) for m in value.members] == [("common", 0), ("data", 64)]
    data = value.members[1].type
    assert isinstance(data, btf.Struct) and data.name == data_type
    assert value.size >= 64 + data.size and value.size % 64 == 0


@pytest.mark.parametrize(
    ("stub", "params"),
    [
        ("bpf_testmod_test_1", []),
        ("bpf_testmod_test_2", ["a", "b"]),
        ("bpf_testmod_ops__test_maybe_null", ["dummy", "task__nullable"]),
        ("bpf_testmod_ops__test_refcounted", ["dummy", "task__ref"]),
        ("bpf_testmod_ops__test_return_ref_kptr", ["dummy", "task__ref", "cgrp"]),
        ("bpf_testmod_tramp", ["value"]),
    ],
)
def test_stub_parameter_names(mod: btf.Spec, stub: str, params: list[str]) -> None:
    """The struct_ops core reads __nullable / __ref from these names."""
    func = mod.find(stub, btf.Func)
    assert [p.name for p in func.type.params] == params


def test_unsupported_ops_has_no_stub(mod: btf.Spec) -> None:
    """#31: the member without a cfi stub cannot be attached, so no FUNC may name it."""
    funcs = [t.name for t in own_types(mod) if isinstance(t, btf.Func)]
    assert funcs
    assert not [f for f in funcs if "unsupported" in f]
