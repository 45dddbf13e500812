"""Objects registered through the structops API on the real kernel, as real bpftool sees them."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from realkernel import real_kernel_skip_reason

from structops.api import Collection

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


@pytest.fixture
def linux():  # type: ignore[no-untyped-def]
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    from structops.linux import LinuxKernel

    return LinuxKernel()


def _bpftool(*args: str) -> object:
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout or "null")


@pytest.mark.parametrize(
    ("obj", "map_name"), [("reno", "so_reno"), ("reno_legacy", "so_reno"), ("cubic_like", "so_cubic")]
)
def test_bpftool_struct_ops_show_lists_our_registration(linux, obj: str, map_name: str) -> None:  # type: ignore[no-untyped-def]
    with Collection.open(TESTDATA / f"{obj}.bpf.o").load(linux) as c:
        m = c.maps[map_name]
        map_id = m.id
        with m.attach_struct_ops() as link:
            shown = _bpftool("struct_ops", "show")
            assert isinstance(shown, list)
            mine = [e for e in shown if e["id"] == m.id]
            assert mine == [{"id": m.id, "name": map_name, "kernel_struct_ops": "tcp_congestion_ops"}]
            progs = _bpftool("prog", "show")
            assert isinstance(progs, list)
            ids = {p["id"] for p in progs if p.get("type") == "struct_ops"}
            assert {p.id for p in c.programs.values()} <= ids
            if not link.is_legacy:
                links = _bpftool("link", "show")
                assert isinstance(links, list)
                assert any(entry["id"] == link.info()["id"] and entry["type"] == "struct_ops" for entry in links)
    # Our map goes once its last reference drops; the free is deferred (F3), and a map of the
    # same name from the previous case may still be on its way out, so look for our id.
    deadline = time.monotonic() + 5.0
    while True:
        after = _bpftool("struct_ops", "show")
        assert isinstance(after, list)
        if all(e["id"] != map_id for e in after) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(e["id"] != map_id for e in after)
