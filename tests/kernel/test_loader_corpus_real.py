"""Issue 11 on the running kernel: the loader corpus through ``LinuxKernel``.

* every object gets the verdict recorded in ``loader_corpus.VERDICTS`` (refusals as a
  VerifierError naming the program, with the kernel's log);
* CO-RE values are checked against values computed from /sys/kernel/btf/vmlinux;
* func_info reaches the kernel (program BTF, full names in bpftool), logs grow until
  they fit, map BTF ids are set, ``.kconfig`` comes from /proc/config.gz;
* CCs with bitfield reads, a global subprogram, bpf_loop, skc_dport and weak kfuncs
  register and carry TCP traffic over loopback; their counters prove the code ran;
* the legacy object registered by bpftool 7.1 and by us dump the same struct_ops value.

Skipped with the reason when not root or without kernel BTF / struct_ops links.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "loader"))

import loader_corpus as lc  # type: ignore[import-not-found]
import test_loader_corpus as emb  # type: ignore[import-not-found]

from structops import btf as btflib
from structops.api import Collection
from structops.cli import main
from structops.errors import BpfError
from structops.kernel.attrs import InfoAttr, MapCreateAttr
from structops.linux import LinuxKernel, features
from structops.loader.externs import kernel_symbols
from structops.uapi import Cmd, MapFlags, MapType

VMLINUX = Path("/sys/kernel/btf/vmlinux")
AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")


def _skip_reason() -> str | None:
    if not VMLINUX.exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed"
    return None


pytestmark = [
    pytest.mark.linux,
    pytest.mark.timeout(120),
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
]


@pytest.fixture(scope="module")
def kernel() -> LinuxKernel:
    k = LinuxKernel()
    for probe in (features.probe_cap_bpf(), features.probe_struct_ops_map(k), features.probe_struct_ops_link(k)):
        if not probe:
            pytest.skip(f"{probe.name}: {probe.reason}")
    return k


@pytest.fixture(scope="module")
def vmlinux() -> btflib.Spec:
    return btflib.parse(VMLINUX.read_bytes())


@pytest.mark.parametrize("name", sorted(lc.VERDICTS))
def test_linux_gives_the_recorded_verdict(kernel: LinuxKernel, name: str) -> None:
    emb.check_verdict(name, kernel)


def test_every_core_kind_against_the_running_kernel_btf(vmlinux: btflib.Spec) -> None:
    emb.check_core_kinds(vmlinux)


def test_bitfields_and_skc_dport_against_the_running_kernel_btf(vmlinux: btflib.Spec) -> None:
    emb.check_bitfield_and_dport(vmlinux)


# -- what reaches the kernel -----------------------------------------------------------------


def _prog_info(kernel: LinuxKernel, fd: int) -> dict[str, int]:
    info = InfoAttr(fd, bytearray(256))
    kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    raw = bytes(info.info)
    # struct bpf_prog_info: id @4, btf_id @128, nr_func_info @144, nr_line_info @148
    return {
        "id": int.from_bytes(raw[4:8], "little"),
        "btf_id": int.from_bytes(raw[128:132], "little"),
        "nr_func_info": int.from_bytes(raw[144:148], "little"),
        "nr_line_info": int.from_bytes(raw[148:152], "little"),
    }


def test_func_info_line_info_and_full_names_reach_the_kernel(kernel: LinuxKernel) -> None:
    with Collection.open(lc.obj("cc_shared_subprogs")).load(kernel) as c:
        for name in ("lo_sh_ssthresh", "lo_sh_cong_avoid"):
            spec = c.spec.programs[name]
            info = _prog_info(kernel, c.programs[name].fd)
            assert info["btf_id"] != 0
            assert info["nr_func_info"] == 1 + len(spec.subprograms) == len(spec.func_infos)
            assert info["nr_line_info"] == len(spec.line_infos) > 0
    with Collection.open(lc.obj("cc_long_name")).load(kernel) as c:
        full = "lo_a_rather_long_program_name_cong_avoid"
        pid = c.programs[full].id
        shown = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", str(pid)], capture_output=True,
                                          text=True, check=True, timeout=30).stdout)  # fmt: skip
        assert shown["name"] == full  # bpftool reads the full name from the program's BTF


def test_a_long_log_grows_until_it_fits(kernel: LinuxKernel) -> None:
    """log_level 2 of a 50k-insn program is megabytes: never ENOSPC on a successful load."""
    c = Collection.open(lc.obj("big_prog"))
    assert c.spec.programs["lo_big"].insn_count > 40_000
    with c.load(kernel, log_level=2):
        assert c._loaded is not None
        log = c._loaded.logs["lo_big"]
        assert len(log) > 1 << 20
        assert log.rstrip().splitlines()[-1].startswith("processed ")
    with Collection.open(lc.obj("big_prog")).load(kernel, log_level=1) as c1:
        assert c1._loaded is not None and "processed " in c1._loaded.logs["lo_big"]


def test_cli_prints_the_program_and_the_log_of_a_refusal() -> None:
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["--kernel", "linux", "struct_ops", "register", str(lc.obj("cc_verifier_reject"))], out)
    text = out.getvalue() + err.getvalue()
    assert rc != 0
    assert "program 'lo_rej_cong_avoid'" in text
    assert "access beyond struct tcp_sock at off 60000 size 8" in text
    assert "permission denied" not in text


def test_maps_carry_btf_key_and_value_ids(kernel: LinuxKernel) -> None:
    with Collection.open(lc.obj("cc_hash_map")).load(kernel) as c:
        m = c.maps["lo_hist"]
        info = InfoAttr(m.fd, bytearray(96))
        kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        raw = bytes(info.info)  # struct bpf_map_info: btf_id @64, btf_key_type_id @68, btf_value_type_id @72
        spec = c.spec.maps["lo_hist"]
        assert int.from_bytes(raw[64:68], "little") != 0
        assert int.from_bytes(raw[68:72], "little") == spec.btf_key_type_id != 0
        assert int.from_bytes(raw[72:76], "little") == spec.btf_value_type_id != 0
    attr = MapCreateAttr(int(MapType.BPF_MAP_TYPE_SK_STORAGE), 4, 16, 0, map_flags=int(MapFlags.BPF_F_NO_PREALLOC))
    with pytest.raises(BpfError) as exc:
        kernel.bpf(Cmd.BPF_MAP_CREATE, attr)
    assert exc.value.errno == errno.EINVAL


def test_kconfig_externs_match_proc_config(kernel: LinuxKernel) -> None:
    cfg: dict[str, str] = {}
    for line in gzip.decompress(Path("/proc/config.gz").read_bytes()).decode().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            cfg[key] = value
    release = os.uname().release.split("-")[0].split(".")
    major, minor, patch = (int(x) for x in [*release, "0", "0"][:3])
    with Collection.open(lc.obj("cc_kconfig")).load(kernel) as c:
        assert c.get_global("CONFIG_HZ") == int(cfg["CONFIG_HZ"])
        assert c.get_global("CONFIG_BPF_SYSCALL") == 1
        assert c.get_global("CONFIG_DEFAULT_TCP_CONG") == cfg["CONFIG_DEFAULT_TCP_CONG"].strip('"').encode()
        assert c.get_global("CONFIG_LO_DOES_NOT_EXIST") == 0
        assert c.get_global("LINUX_KERNEL_VERSION") == (major << 16) + (minor << 8) + min(patch, 255)


# -- registration and traffic ------------------------------------------------------------------


def _transfer(cc: str, nbytes: int = 4 << 20) -> int:
    """Send ``nbytes`` over loopback with congestion control ``cc``; return the server port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = int(srv.getsockname()[1])
    got: list[int] = []

    def sink() -> None:
        conn, _ = srv.accept()
        with conn:
            n = 0
            while data := conn.recv(1 << 16):
                n += len(data)
            got.append(n)

    t = threading.Thread(target=sink, daemon=True)
    t.start()
    cli = socket.socket()
    try:
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
        cli.connect(("127.0.0.1", port))
        assert cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode() == cc
        cli.sendall(bytes(nbytes))
        cli.shutdown(socket.SHUT_WR)
        t.join(30)
    finally:
        cli.close()
        srv.close()
    assert got == [nbytes]
    return port


@contextlib.contextmanager
def _registered(kernel: LinuxKernel, name: str, map_name: str) -> Iterator[Collection]:
    if map_name in AVAILABLE.read_text().split():
        pytest.skip(f"{map_name} is already registered on this kernel")
    c = Collection.open(lc.obj(name)).load(kernel)
    try:
        with c.maps[map_name].attach_struct_ops():
            assert map_name in AVAILABLE.read_text().split()
            yield c
    finally:
        c.close()
    assert map_name not in AVAILABLE.read_text().split()


def test_bitfield_cc_carries_traffic(kernel: LinuxKernel) -> None:
    with _registered(kernel, "cc_bitfield", "lo_bitf") as c:
        _transfer("lo_bitf")
        calls = c.get_global("n_calls")
        assert isinstance(calls, int) and calls > 0
        # the direct read and BPF_CORE_READ_BITFIELD read the same relocated bit
        assert c.get_global("n_limited") == c.get_global("n_limited_macro")


def test_global_subprog_cc_carries_traffic(kernel: LinuxKernel) -> None:
    with _registered(kernel, "cc_global_subprog", "lo_gsub"):
        _transfer("lo_gsub")


def test_bpf_loop_cc_carries_traffic(kernel: LinuxKernel) -> None:
    with _registered(kernel, "cc_bpf_loop", "lo_loop") as c:
        _transfer("lo_loop")
        calls, total = c.get_global("n_calls"), c.get_global("loop_total")
        assert isinstance(calls, int) and isinstance(total, int) and calls > 0
        assert total >= calls * 6  # each call sums cwnd + i over i = 0..3, cwnd >= 1


def test_skc_dport_cc_sees_the_server_port(kernel: LinuxKernel) -> None:
    with _registered(kernel, "cc_skc_dport", "lo_dport") as c:
        port = _transfer("lo_dport")
        want = socket.htons(port)
        assert c.get_global("last_dport") == want
        assert c.get_global("last_dport_probe") == want
        assert c.get_global("last_family") == socket.AF_INET


def test_weak_kfunc_cc_reports_what_exists(kernel: LinuxKernel) -> None:
    with _registered(kernel, "cc_ksym_weak", "lo_weak") as c:
        _transfer("lo_weak", 1 << 16)
        assert (c.get_global("missing_exists"), c.get_global("present_exists")) == (0, 1)


def test_untyped_ksym_cc_sees_the_kallsyms_address(kernel: LinuxKernel) -> None:
    """An untyped ``__ksym`` loads the address /proc/kallsyms lists; a weak missing one is 0."""
    want = kernel_symbols(kernel)["bbr_main"]
    if not want:
        pytest.skip("/proc/kallsyms hides addresses here (kptr_restrict)")
    with _registered(kernel, "cc_ksym_untyped", "lo_ku") as c:
        _transfer("lo_ku", 1 << 16)
        assert c.get_global("ku_present") == want
        assert (c.get_global("ku_missing"), c.get_global("ku_missing_exists")) == (0, 0)


@pytest.mark.parametrize(("name", "cc"), [("legacy_bitfield", "lo_lbit"), ("legacy_loop", "lo_lloop")])
def test_legacy_object_registers_like_bpftool(kernel: LinuxKernel, name: str, cc: str) -> None:
    """bpftool 7.1 registers the legacy .struct_ops object; so do we; the dumps agree."""
    if cc in AVAILABLE.read_text().split():
        pytest.skip(f"{cc} is already registered on this kernel")

    def dump() -> Any:
        res = subprocess.run(["bpftool", "-j", "struct_ops", "dump", "name", cc], capture_output=True,
                             text=True, check=True, timeout=30)  # fmt: skip
        info, value = json.loads(res.stdout)
        m = dict(info["bpf_map_info"])
        for volatile in ("id", "btf_id"):
            m.pop(volatile)
        data = value["bpf_struct_ops_tcp_congestion_ops"]["data"]
        slots = {k: v.split("/prog_id:")[0] if isinstance(v, str) else v for k, v in data.items()}
        return m, value["bpf_struct_ops_tcp_congestion_ops"]["common"]["state"], slots

    subprocess.run(["bpftool", "struct_ops", "register", str(lc.obj(name))], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    try:
        theirs = dump()
    finally:
        subprocess.run(["bpftool", "struct_ops", "unregister", "name", cc], capture_output=True, timeout=30)
    with Collection.open(lc.obj(name)).load(kernel) as c, c.maps[cc].attach_struct_ops():
        ours = dump()
        _transfer(cc, 1 << 20)
    assert ours == theirs
    assert theirs[2]["cong_avoid"].endswith(f"{cc}_cong_avoid")
