"""Our bpftool-style CLI on the running kernel against the real ``bpftool`` (7.1).

``structops --kernel linux struct_ops register`` registers ``cubic_like.bpf.o`` (legacy
``.struct_ops``, CC ``so_cubic``) and ``reno.bpf.o`` (``.struct_ops.link``, CC ``so_reno``,
link pinned in a private bpffs mount: bpftool 7.1 has no LINK_DIR), then the ``-j``
output of ``struct_ops show``, ``struct_ops dump``, ``map show``, ``map dump``, ``prog show``
and ``link show`` is compared with ``bpftool -j`` for the objects we created.

Known differences, asserted as such:

* ``link show``: we add ``"map_id"`` to struct_ops links (newer bpftool prints the map;
  7.1 prints only ``prog_id``);
* ``prog show`` ``loaded_at``: bpftool and we convert boot time to wall clock each at
  its own moment, so the seconds may differ by one;
* ``struct_ops dump`` function slots: bpftool 7.1 prints ``<unknown_prog_name>`` for
  programs loaded without func_info (ours), we print the kernel's program name;
* ``struct_ops dump id N``: bpftool 7.1 omits the enclosing ``[]`` (invalid JSON);
* ``map show`` (the full listing): bpftool 7.1 repeats the previous map's ``btf_id`` on
  maps without BTF; ``map show id N`` does not, and we match that form.

Everything registered is unregistered (and the bpffs unmounted) even when a check fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from structops.cli import main

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF and mount(2) are needed"
    return None


_reason = _skip_reason()
if _reason is None and shutil.which("bpftool") is None:
    _reason = "bpftool is not installed"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def ours(*argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    rc = main(["--kernel", "linux", *argv], out)
    text = out.getvalue()
    return rc, (json.loads(text) if text.strip() else None)


def real(*argv: str) -> Any:
    res = subprocess.run(["bpftool", *argv], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(res.stdout)


def _cc_available() -> list[str]:
    return Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """so_cubic (legacy) and so_reno (link, pinned) registered with OUR cli."""
    busy = {"so_cubic", "so_reno"} & set(_cc_available())
    if busy:
        pytest.skip(f"{sorted(busy)} already registered on this kernel (another test running?)")
    mnt = tmp_path_factory.mktemp("bpffs")
    if subprocess.run(["mount", "-t", "bpf", "bpf", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a bpffs for the link pins")
    link_dir = mnt / "links"
    try:
        rc1, _ = ours("struct_ops", "register", str(TESTDATA / "cubic_like.bpf.o"))
        rc2, _ = ours("struct_ops", "register", str(TESTDATA / "reno.bpf.o"), str(link_dir))
        assert (rc1, rc2) == (0, 0)
        shown = real("struct_ops", "show", "-j")
        ids = {r["name"]: r["id"] for r in shown if r["name"] in ("so_cubic", "so_reno")}
        assert set(ids) == {"so_cubic", "so_reno"}
        yield {"ids": ids, "link_dir": link_dir}
    finally:
        with contextlib.suppress(Exception):
            ours("struct_ops", "unregister", "name", "so_cubic")
        with contextlib.suppress(OSError):
            (link_dir / "so_reno").unlink()  # the pin held the only link reference
        subprocess.run(["umount", str(mnt)], capture_output=True)
        assert not {"so_cubic", "so_reno"} & set(_cc_available())


def _our_map_ids(ids: dict[str, int]) -> set[int]:
    """Our struct_ops maps plus the maps their programs use (.bss, .rodata ...)."""
    progs = _our_progs(ids)
    return set(ids.values()) | {m for p in progs for m in p.get("map_ids", [])}


def _our_progs(ids: dict[str, int]) -> list[dict[str, Any]]:
    wanted: set[int] = set()
    for map_id in ids.values():
        _, dump = ours("map", "dump", "id", str(map_id), "-j")
        data = dump[0]["formatted"]["value"]["data"]
        wanted |= {v for v in data.values() if isinstance(v, int) and v}
    return [p for p in real("prog", "show", "-j") if p["id"] in wanted]


def test_struct_ops_show_matches(registered: dict[str, Any]) -> None:
    ids = registered["ids"]
    want = [r for r in real("struct_ops", "show", "-j") if r["id"] in ids.values()]
    rc, got = ours("struct_ops", "show", "-j")
    assert rc == 0
    assert [r for r in got if r["id"] in ids.values()] == want
    for name, map_id in ids.items():
        by_id = ("struct_ops", "show", "id", str(map_id), "-j")
        assert ours(*by_id)[1] == real(*by_id)
        by_name = ("struct_ops", "show", "name", name, "-j")
        assert ours(*by_name)[1] == real(*by_name)


def _normalise_prog_names(doc: Any) -> Any:
    text = json.dumps(doc)
    return json.loads(re.sub(r' [^ "]+/prog_id:(\d+)"', r' <prog>/prog_id:\1"', text))


def test_struct_ops_dump_matches(registered: dict[str, Any]) -> None:
    for name in registered["ids"]:
        want = real("struct_ops", "dump", "name", name, "-j")
        rc, got = ours("struct_ops", "dump", "name", name, "-j")
        assert rc == 0
        assert got[0] == want[0]  # bpf_map_info, every field
        assert _normalise_prog_names(got) == _normalise_prog_names(want)


def test_map_show_and_dump_match(registered: dict[str, Any]) -> None:
    map_ids = _our_map_ids(registered["ids"])
    by_id = {i: real("map", "show", "id", str(i), "-j") for i in map_ids}
    listed = {m["id"]: m for m in real("map", "show", "-j") if m["id"] in map_ids}
    _, got_all = ours("map", "show", "-j")
    got = {m["id"]: m for m in got_all if m["id"] in map_ids}
    # same keys in the same order, same values (memlock / frozen from fdinfo)
    assert got == by_id
    for i in map_ids:
        assert list(got[i]) == list(by_id[i])
        assert ours("map", "show", "id", str(i), "-j")[1] == by_id[i]
        # bpftool 7.1 quirk: its full listing repeats the previous map's btf_id on maps
        # that have none (the by-id form and the kernel's info agree with us)
        if "btf_id" not in by_id[i]:
            listed[i].pop("btf_id", None)
    assert got == listed
    for map_id in registered["ids"].values():
        assert ours("map", "dump", "id", str(map_id), "-j")[1] == real("map", "dump", "id", str(map_id), "-j")


def test_prog_show_matches(registered: dict[str, Any]) -> None:
    want = {p["id"]: p for p in _our_progs(registered["ids"])}
    assert want
    _, got_all = ours("prog", "show", "-j")
    got = {p["id"]: p for p in got_all if p["id"] in want}
    assert set(got) == set(want)
    for pid, w in want.items():
        g = got[pid]
        assert list(g) == list(w)
        assert abs(g["loaded_at"] - w["loaded_at"]) <= 1
        assert {k: v for k, v in g.items() if k != "loaded_at"} == {k: v for k, v in w.items() if k != "loaded_at"}


def test_link_show_matches(registered: dict[str, Any]) -> None:
    reno_map = registered["ids"]["so_reno"]
    _, got_all = ours("link", "show", "-j")
    ours_links = [ln for ln in got_all if ln.get("map_id") == reno_map]
    assert len(ours_links) == 1
    link = ours_links[0]
    want = [ln for ln in real("link", "show", "-j") if ln["id"] == link["id"]]
    assert len(want) == 1
    extra = {k: v for k, v in link.items() if k not in want[0]}
    assert extra == {"map_id": reno_map}  # the documented addition
    assert {k: link[k] for k in want[0]} == want[0]
