"""Map fdinfo ``memlock`` on Linux and on the embedded kernel for the same creation attributes
and contents (``map_memlock_cases.py``); skipped where the real bpf() syscall is unavailable.

The embedded kernel gets a simulated machine with as many CPUs as this machine has possible
CPUs, so the per-CPU terms of the kernel's formulas agree.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import map_memlock_cases as M
import pytest
from realkernel import real_kernel_skip_reason

from structops import btf as btflib
from structops.abi.attrs import BtfLoadAttr, MapCreateAttr
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.linux.fdinfo import parse_fdinfo
from structops.uapi import Cmd, MapType

_SKIP = real_kernel_skip_reason()
pytestmark = [pytest.mark.linux, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


def possible_cpus(path: Path = Path("/sys/devices/system/cpu/possible")) -> int:
    """``num_possible_cpus()`` of this machine, from its ``0-N,M`` list."""
    count = 0
    for part in path.read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


@pytest.fixture(scope="module")
def linux() -> Kernel:
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmulatedKernel]:
    yield M.kernel_with_cpus(possible_cpus())


def _linux_run(k: Kernel) -> M.Run:
    from structops.linux import read_fdinfo

    return M.Run(k, read_fdinfo)


def _run(run: M.Run, case: M.Case) -> tuple[int, ...]:
    try:
        return run.run(case)
    finally:
        run.close()


@pytest.mark.parametrize("case", M.CASES, ids=lambda c: c.name)
def test_memlock_same_on_both_kernels(linux: Kernel, embedded: EmulatedKernel, case: M.Case) -> None:
    """The same map with the same contents shows the same memlock on Linux and embedded."""
    try:
        on_linux = _run(_linux_run(linux), case)
    except BpfError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):  # type or key kind missing here
            pytest.skip(f"{case.name} not available on this kernel: {exc}")
        raise
    assert _run(M.embedded_run(embedded), case) == on_linux
    if possible_cpus() == M.MEASURED_NCPUS:
        assert on_linux == case.linux  # the recorded table still describes this kernel


@pytest.mark.parametrize("type_name", ["tcp_congestion_ops", "bpf_dummy_ops"])
def test_struct_ops_memlock_same_on_both_kernels(linux: Kernel, embedded: EmulatedKernel, type_name: str) -> None:
    """M1: a struct_ops map's memlock (5264 and 4848 on Linux 6.18 here) on both kernels."""
    from structops.btf import Int, IntEncoding, encode

    seen = []
    for k, fdinfo in ((linux, None), (embedded, embedded.root.fdinfo)):
        spec = btflib.parse(k.vmlinux_btf())  # type: ignore[attr-defined]
        try:
            vt = spec.find("bpf_struct_ops_" + type_name, btflib.Struct)
        except KeyError:
            pytest.skip(f"no struct_ops type {type_name} on this kernel")
        btf_fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=encode([Int("int", 4, IntEncoding.SIGNED)])))
        attr = MapCreateAttr(
            int(MapType.BPF_MAP_TYPE_STRUCT_OPS),
            4,
            vt.size,
            1,
            btf_fd=btf_fd,
            btf_vmlinux_value_type_id=spec.type_id(vt),
        )
        fd = k.bpf(Cmd.BPF_MAP_CREATE, attr)
        try:
            if fdinfo is None:
                from structops.linux import read_fdinfo

                seen.append(int(read_fdinfo(fd)["memlock"]))
            else:
                seen.append(int(parse_fdinfo(fdinfo(fd))["memlock"]))
        finally:
            k.close(fd)
            k.close(btf_fd)
    assert seen[0] == seen[1]


@pytest.mark.parametrize("name", ["array_of_maps_x2", "hash_of_maps_noprealloc_4x3", "percpu_array_9x3"])
def test_map_show_memlock_as_bpftool(linux: Kernel, embedded: EmulatedKernel, name: str) -> None:
    """``structops map show -j`` prints bpftool's ``bytes_memlock`` for a map on Linux (map-in-map
    included), and the embedded kernel's ``map show`` prints the same record but the id."""
    import io
    import json
    import shutil
    import subprocess

    from structops.cli import main
    from structops.introspect import Introspector

    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    case = next(c for c in M.CASES if c.name == name)
    rows = []
    for k, run in ((linux, _linux_run(linux)), (embedded, M.embedded_run(embedded))):
        try:
            fd = run.create(case)
            for i in range(case.inserts):
                run.update(fd, case, i)
            map_id = Introspector(k).map_info(fd).id
            out = io.StringIO()
            assert main(["map", "show", "id", str(map_id), "-j"], out, kernel=k) == 0
            rows.append(json.loads(out.getvalue()))
            if k is linux:
                real = subprocess.run(
                    ["bpftool", "-j", "map", "show", "id", str(map_id)], capture_output=True, text=True
                )
                assert rows[-1] == json.loads(real.stdout)
        finally:
            run.close()
    assert rows[0]["bytes_memlock"] == rows[1]["bytes_memlock"] > 0
    assert {**rows[0], "id": 0} == {**rows[1], "id": 0}


@pytest.mark.parametrize("obj", ["mixed", "dctcp_like", "sockopt_cc", "cubic_like", "reno"])
def test_loaded_object_maps_memlock_same_on_both_kernels(linux: Kernel, embedded: EmulatedKernel, obj: str) -> None:
    """Every map a loaded object creates (global data, hashes, sk_storage, struct_ops) shows
    the same memlock and map_flags on Linux and on the embedded kernel."""
    from structops.api import Collection
    from structops.linux import read_fdinfo

    path = Path(__file__).resolve().parents[2] / "testdata" / f"{obj}.bpf.o"
    seen = []
    for k, fdinfo in ((linux, read_fdinfo), (embedded, lambda fd: parse_fdinfo(embedded.root.fdinfo(fd)))):
        with Collection.open(path).load(k) as c:
            seen.append({n: (fdinfo(m.fd)["memlock"], fdinfo(m.fd)["map_flags"]) for n, m in c.maps.items()})
    assert seen[0] == seen[1]
