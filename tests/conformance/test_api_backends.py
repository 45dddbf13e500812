"""The high-level API on both backends with the same clang-built objects (issue: loader + API).

Each test runs on the embedded kernel and, where the real kernel is usable, on Linux:
the same ``.o`` files load and register through the same calls, and libbpf's
struct_ops rules (selftests report Part B) give the same outcome.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from realkernel import real_kernel_skip_reason

from structops.api import Collection
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.loader.load import LoadError
from structops.uapi import StructOpsState

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def _linux() -> Kernel:
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.fixture(params=["embedded", "linux"])
def kernel(request: pytest.FixtureRequest) -> Kernel:
    return EmulatedKernel() if request.param == "embedded" else _linux()


def available(k: Kernel) -> Callable[[], list[str]]:
    if isinstance(k, EmulatedKernel):
        return k.tcp_congestion.available
    return lambda: Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()


@pytest.fixture
def coll(kernel: Kernel) -> Iterator[Callable[[str], Collection]]:
    opened: list[Collection] = []

    def load(name: str) -> Collection:
        c = Collection.open(TESTDATA / f"{name}.bpf.o").load(kernel)
        opened.append(c)
        return c

    yield load
    for c in reversed(opened):
        c.close()


def _state(value: bytes) -> tuple[int, int]:
    return struct.unpack_from("<iI", value, 0)


def test_link_object_registers_and_close_unregisters(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """.struct_ops.link: update -> READY (U12), link create registers (K5), close unregisters (KP2)."""
    c = coll("reno")
    m = c.maps["so_reno"]
    assert _state(m.lookup(0)) == (0, StructOpsState.BPF_STRUCT_OPS_STATE_INIT)
    with m.attach_struct_ops() as link:
        assert "so_reno" in available(kernel)()
        info = link.info()
        assert info["type"] == 9 and info["prog_id"] == 0 and info["map_id"] == m.id
        assert _state(m.lookup(0)) == (1, StructOpsState.BPF_STRUCT_OPS_STATE_READY)
    assert "so_reno" not in available(kernel)()
    assert _state(m.lookup(0)) == (0, StructOpsState.BPF_STRUCT_OPS_STATE_READY)


def test_legacy_object_registration(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """.struct_ops: attach = update (U13, INUSE); detach = delete_elem (D3, TOBEFREE)."""
    c = coll("reno_legacy")
    m = c.maps["so_reno"]
    link = m.attach_struct_ops()
    assert link.is_legacy
    value = m.lookup(0)
    assert _state(value) == (1, StructOpsState.BPF_STRUCT_OPS_STATE_INUSE)
    assert "so_reno" in available(kernel)()
    link.detach()
    assert "so_reno" not in available(kernel)()
    assert _state(m.lookup(0))[1] == StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE


def test_hot_swap_with_link_update(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """KU2 / T7: a second object with the same CC name replaces the first through the link."""
    v1 = coll("reno").maps["so_reno"]
    v2 = coll("reno_v2").maps["so_reno_v2"]
    with v1.attach_struct_ops() as link:
        link.update_map(v2, expected=v1)
        assert link.info()["map_id"] == v2.id
        assert _state(v1.lookup(0))[0] == 0
        assert _state(v2.lookup(0))[0] == 1
        assert available(kernel)().count("so_reno") == 1
        with pytest.raises(BpfError) as exc:
            link.update_map(v1, expected=v1)  # BPF_F_REPLACE with the wrong old map
        assert exc.value.errno == errno.EPERM
    assert "so_reno" not in available(kernel)()


def test_lookup_bytes_show_prog_ids(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """L4: the value shows each populated op's prog id and the user's name bytes."""
    c = coll("reno_legacy")
    m = c.maps["so_reno"]
    with m.attach_struct_ops():
        value = m.lookup(0)
    ids = {p.id for p in c.programs.values()}
    slots = {struct.unpack_from("<Q", value, 64 + off)[0] for off in (0, 8, 64, 136, 144)}
    assert slots == ids
    assert value[64 + 88 : 64 + 96] == b"so_reno\0"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("bad_unreferenced", "unreferenced struct_ops program"),
        ("bad_reuse", "invalid reuse of prog"),
        ("bad_member", "member does_not_exist not found in kernel BTF"),
        ("bad_type", "bpf_struct_ops_nonexistent_ops is not found"),
    ],
)
def test_libbpf_loader_rules(kernel: Kernel, obj: str, message: str) -> None:
    """libbpf struct_ops rules B.*: loader-side errors before anything reaches the kernel."""
    with pytest.raises(LoadError, match=message):
        Collection.open(TESTDATA / f"{obj}.bpf.o").load(kernel)


def test_non_gpl_struct_ops_rejected_by_kernel(kernel: Kernel) -> None:
    """V4: the kernel refuses non-GPL struct_ops programs with EINVAL."""
    with pytest.raises(BpfError) as exc:
        Collection.open(TESTDATA / "bad_license.bpf.o").load(kernel)
    assert exc.value.errno == errno.EINVAL


def test_optional_programs_and_maps(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """`?` sections: programs not autoloaded, maps not autocreated."""
    c = coll("optional")
    assert "opt_plain" in c.programs
    assert not {"opt_q_1", "opt_q_2", "opt_unbound"} & set(c.programs)
    assert "dummy_opt_base" in c.maps and "dummy_opt_q" not in c.maps


def test_dummy_ops_loads_but_cannot_register(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """DM3: bpf_dummy_ops objects load (for test_run); attach fails with EOPNOTSUPP."""
    c = coll("dummy_ops")
    assert set(c.programs) == {"dummy_test_1", "dummy_test_2", "dummy_test_sleepable"}
    with pytest.raises(BpfError) as exc:
        c.maps["dummy_1"].attach_struct_ops()
    assert exc.value.errno == errno.EOPNOTSUPP


def test_core_relocated_object_loads(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """CO-RE + .rodata + .kconfig + bpf-to-bpf calls: cubic_like loads and registers."""
    c = coll("cubic_like")
    with c.maps["so_cubic"].attach_struct_ops():
        assert "so_cubic" in available(kernel)()
    assert "so_cubic" not in available(kernel)()


def test_mixed_object(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """Objects mixing tc/socket/xdp programs, data maps and struct_ops load."""
    c = coll("mixed")
    assert {"mixed_tc", "mixed_socket", "mixed_xdp", "mixed_test_1"} <= set(c.programs)


def test_kconfig_externs_resolved_and_readonly_maps_frozen(kernel: Kernel, coll: Callable[[str], Collection]) -> None:
    """`.kconfig` gets CONFIG_HZ of the target kernel (250 on both); .rodata/.kconfig are frozen."""
    c = coll("cubic_like")
    assert struct.unpack("<Q", c.maps[".kconfig"].lookup(0)) == (250,)
    for name in (".kconfig", ".rodata"):
        with pytest.raises(BpfError) as exc:
            c.maps[name].update(0, bytes(c.maps[name].value_size))
        assert exc.value.errno == errno.EPERM
    c.maps[".bss"].update(0, bytes(c.maps[".bss"].value_size))  # writable data stays writable
