"""The load phase's libbpf struct_ops rules (selftests report Part B) on the embedded kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from structops.api import Collection
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.loader.load import LoadError

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _open(name: str) -> Collection:
    return Collection.open(TESTDATA / f"{name}.bpf.o")


def test_B2_unreferenced_struct_ops_program_fails_load() -> None:
    with pytest.raises(LoadError, match="isn't referenced anywhere"):
        _open("bad_unreferenced").load()


def test_B2_disabling_the_unreferenced_program_lets_it_load() -> None:
    c = _open("bad_unreferenced")
    c.disable_program("forgotten_test_2")
    with c.load():
        assert set(c.programs) == {"used_test_1"}


def test_B4_autoload_follows_autocreate_of_referencing_maps() -> None:
    """`?.struct_ops` maps are not created, and programs only they use are not loaded."""
    c = _open("optional").load()
    with c:
        assert "dummy_opt_q" not in c.maps
        assert {"opt_q_1", "opt_q_2"} & set(c.programs) == set()


def test_B4_replacing_a_program_in_the_shadow_drops_the_old_one() -> None:
    c = _open("reno")
    so = c.spec.map_by_name("so_reno").struct_ops
    assert so is not None
    c.set_struct_ops_prog("so_reno", "init", None)  # NULL the op: skip it
    with c.load() as loaded:
        assert "so_reno_init" not in loaded.programs
        with loaded.maps["so_reno"].attach_struct_ops():
            value = loaded.maps["so_reno"].lookup(0)
            assert value[64 + 136 : 64 + 144] == bytes(8)  # init slot left NULL


def test_B4_program_must_be_struct_ops() -> None:
    c = _open("mixed")
    with pytest.raises(TypeError):
        c.set_struct_ops_prog("mixed_dummy", "test_1", "mixed_tc")


def test_B4_invalid_reuse_of_prog() -> None:
    with pytest.raises(LoadError, match="invalid reuse of prog"):
        _open("bad_reuse").load()


def test_B4_missing_member_nonzero_and_type_not_found() -> None:
    with pytest.raises(LoadError, match="Cannot find member does_not_exist"):
        _open("bad_member").load()
    with pytest.raises(LoadError, match="struct bpf_struct_ops_nonexistent_ops is not found in kernel BTF"):
        _open("bad_type").load()


def test_B4_module_types_found_in_module_btf() -> None:
    """Types absent from vmlinux are looked up in module BTFs (BPF_F_VTYPE_BTF_OBJ_FD)."""
    from structops.kernel.subsys.testmod import make_module, registered

    k = EmulatedKernel()
    with pytest.raises(LoadError, match="bpf_struct_ops_bpf_testmod_ops is not found"):
        _open("testmod_ops").load(k)
    k.load_module(make_module())
    with _open("testmod_ops").load(k) as c:
        with c.maps["testmod_1"].attach_struct_ops():
            assert len(registered(k, "bpf_testmod_ops")) == 1
        assert registered(k, "bpf_testmod_ops") == []


def test_B6_attach_of_non_struct_ops_map_is_rejected() -> None:
    with _open("mixed").load() as c, pytest.raises(TypeError):
        c.maps["mixed_counts"].attach_struct_ops()


def test_B6_legacy_link_detach_unregisters() -> None:
    with _open("reno_legacy").load() as c:
        k = c.kernel
        assert isinstance(k, EmulatedKernel)
        link = c.maps["so_reno"].attach_struct_ops()
        assert link.is_legacy and "so_reno" in k.tcp_congestion.available()
        link.close()
        assert "so_reno" not in k.tcp_congestion.available()
        with pytest.raises(TypeError):
            _ = link.fd


def test_load_failure_closes_everything() -> None:
    k = EmulatedKernel()
    with pytest.raises(BpfError):
        _open("bad_license").load(k)
    live = k.live_objects()
    assert live["map"] == [] and live["prog"] == [] and live["btf"] == [1]
