# ruff: noqa: F811  (the cli / kernel fixtures are imported from cli_support)
"""``structops struct_ops show|dump|register|unregister`` on the embedded kernel.

Objects are loaded and attached through the API; the CLI output is checked against
what the API and the kernel report (ids, names) and against bpftool's formats
(kernel-6.18-observed section 3, selftests report C.1-C.5).
"""

from __future__ import annotations

import json

import pytest
from cli_support import TESTDATA, Cli, cli, kernel  # noqa: F401 (fixtures)

from structops.api import Collection, Link
from structops.kernel.emulated import EmulatedKernel


def attach(kernel: EmulatedKernel, name: str) -> tuple[Collection, list[Link]]:
    coll = Collection.open(TESTDATA / f"{name}.bpf.o").load(kernel)
    return coll, [m.attach_struct_ops() for m in coll.maps.values() if m.spec.struct_ops is not None]


@pytest.fixture
def two(kernel: EmulatedKernel) -> dict[str, int]:
    """so_reno (link map) and so_cubic (legacy) registered; name -> map id."""
    reno, reno_links = attach(kernel, "reno")
    cubic, _ = attach(kernel, "cubic_like")
    ids = {"so_reno": reno.maps["so_reno"].id, "so_cubic": cubic.maps["so_cubic"].id}
    kernel._keep = (reno, reno_links, cubic)  # type: ignore[attr-defined]
    return ids


def test_show_text_and_json(cli: Cli, two: dict[str, int]) -> None:
    res = cli("struct_ops", "show")
    assert res.rc == 0 and res.err == ""
    lines = res.out.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, sorted(two, key=two.__getitem__), strict=True):
        assert line == f"{two[name]}: {name:<15} {'tcp_congestion_ops':<32}"
    j = cli("struct_ops", "list", "-j")
    assert json.loads(j.out) == [
        {"id": two[n], "name": n, "kernel_struct_ops": "tcp_congestion_ops"} for n in sorted(two, key=two.__getitem__)
    ]
    assert j.out.startswith('[{"id":')


def test_show_by_id_and_name(cli: Cli, two: dict[str, int]) -> None:
    one = cli("struct_ops", "show", "id", str(two["so_cubic"]), "-j")
    assert json.loads(one.out) == {"id": two["so_cubic"], "name": "so_cubic", "kernel_struct_ops": "tcp_congestion_ops"}
    by_name = cli("-j", "struct_ops", "show", "name", "so_reno")
    assert [r["id"] for r in json.loads(by_name.out)] == [two["so_reno"]]


def test_show_errors_like_bpftool(cli: Cli, two: dict[str, int], kernel: EmulatedKernel) -> None:
    res = cli("struct_ops", "show", "id", "999")
    assert res.rc == 255 and res.out == ""
    assert res.err == "Error: can't get map by id (999): No such file or directory\n"
    res = cli("struct_ops", "show", "id", "999", "-j")
    assert res.rc == 255 and json.loads(res.out) == {"error": "can't get map by id (999): No such file or directory"}
    bss_id = min(two.values()) - 1  # reno.bss is created just before so_reno
    res = cli("struct_ops", "show", "id", str(bss_id))
    assert res.rc == 255 and res.err == f"Error: reno.bss id {bss_id} is not a struct_ops map\n"
    res = cli("struct_ops", "show", "name", "nope")
    assert res.rc == 255 and res.err == "Error: no struct_ops found for nope\n"
    res = cli("struct_ops", "show", "name", "nope", "-j")
    assert res.rc == 255 and json.loads(res.out) == []
    res = cli("struct_ops", "show", "bogus", "1")
    assert res.rc == 255 and "expected STRUCT_OPS_MAP" in res.err


def test_empty_kernel_shows_nothing(cli: Cli) -> None:
    assert cli("struct_ops", "show").out == ""
    assert cli("struct_ops", "show", "-j").out == "[]\n"


def test_dump_is_valid_json_with_prog_ids(cli: Cli, two: dict[str, int]) -> None:
    for argv in (("-j",), ("-p",), ()):
        res = cli("struct_ops", "dump", "id", str(two["so_cubic"]), *argv)
        assert res.rc == 0
        docs = json.loads(res.out)  # bpftool 7.1 prints `{..},{..}` here: invalid JSON
        assert [next(iter(d)) for d in docs] == ["bpf_map_info", "bpf_struct_ops_tcp_congestion_ops"]
    info = docs[0]["bpf_map_info"]
    assert info["id"] == two["so_cubic"] and info["name"] == "so_cubic" and info["type"] == 26
    assert info["value_size"] == 256 and info["map_flags"] == 0
    value = json.loads(cli("struct_ops", "dump", "name", "so_cubic", "-j").out)[1]
    data = value["bpf_struct_ops_tcp_congestion_ops"]["data"]
    assert value["bpf_struct_ops_tcp_congestion_ops"]["common"]["state"] == "BPF_STRUCT_OPS_STATE_INUSE"
    assert data["name"] == "so_cubic" and data["owner"] == 0
    progs = {p["id"]: p for p in json.loads(cli("prog", "show", "-j").out)}
    proto, _, target = data["init"].rpartition(" ")
    name, _, pid = target.partition("/prog_id:")
    assert proto == "void (struct sock *)"
    assert progs[int(pid)]["name"] == name == "so_cubic_init"
    assert data["in_ack_event"] == "void (struct sock *, u32) 0"
    everything = json.loads(cli("struct_ops", "dump", "-j").out)
    assert len(everything) == 4


def test_dump_plain_quotes_pointers(cli: Cli, two: dict[str, int]) -> None:
    res = cli("struct_ops", "dump", "id", str(two["so_reno"]))
    data = json.loads(res.out)[1]["bpf_struct_ops_tcp_congestion_ops"]["data"]
    assert data["owner"] == "(nil)" and data["list"] == {"next": "(nil)", "prev": "(nil)"}
    assert res.out.startswith('[{\n        "bpf_map_info": {\n')


def test_register_legacy_then_unregister(cli: Cli, kernel: EmulatedKernel) -> None:
    res = cli("struct_ops", "register", str(TESTDATA / "cubic_like.bpf.o"))
    assert res.rc == 0 and res.out == ""
    shown = json.loads(cli("struct_ops", "show", "-j").out)
    assert [r["name"] for r in shown] == ["so_cubic"]
    map_id = shown[0]["id"]
    assert res.err == f"Registered tcp_congestion_ops so_cubic id {map_id}\n"
    # the registering "process" exited, yet the legacy registration stays (F1)
    assert kernel.find_struct_ops("tcp_congestion_ops") is not None
    dup = cli("struct_ops", "register", str(TESTDATA / "cubic_like.bpf.o"))
    assert dup.rc == 255 and dup.err == "Error: can't register struct_ops so_cubic: File exists\n"
    res = cli("struct_ops", "unregister", "name", "so_cubic")
    assert res.rc == 0 and res.err == f"Unregistered tcp_congestion_ops so_cubic id {map_id}\n"
    assert cli("struct_ops", "show").out == ""
    res = cli("struct_ops", "unregister", "id", str(map_id), "-j")
    assert res.rc == 255 and json.loads(res.out)["error"].startswith(f"can't get map by id ({map_id})")


def test_register_json_prints_null(cli: Cli) -> None:
    res = cli("-j", "struct_ops", "register", str(TESTDATA / "reno_legacy.bpf.o"))
    assert res.rc == 0 and res.out == "null\n" and res.err == ""
    res = cli("struct_ops", "unregister", "name", "so_reno", "-j")
    assert res.rc == 0 and res.out == "null\n"


def test_register_link_map_with_link_dir(cli: Cli, kernel: EmulatedKernel) -> None:
    res = cli("struct_ops", "register", str(TESTDATA / "reno.bpf.o"), "/sys/fs/bpf/cc")
    assert res.rc == 0, res.err
    maps = json.loads(cli("struct_ops", "show", "-j").out)
    links = json.loads(cli("link", "show", "-j").out)
    assert len(maps) == 1 and len(links) == 1
    assert links[0]["map_id"] == maps[0]["id"] and links[0]["type"] == "struct_ops"
    assert res.err == f"Registered tcp_congestion_ops so_reno map id {maps[0]['id']} link id {links[0]['id']}\n"
    assert kernel.bpffs.get("/sys/fs/bpf/cc/so_reno") is not None
    # a link map cannot be unregistered by delete_elem (EOPNOTSUPP), only by its link
    res = cli("struct_ops", "unregister", "id", str(maps[0]["id"]))
    assert res.rc == 255
    assert res.err == (
        f"Error: can't unload tcp_congestion_ops so_reno id {maps[0]['id']}: Operation not supported "
        f"(it is registered through a link: structops link detach id {links[0]['id']})\n"
    )
    assert cli("link", "detach", "id", str(links[0]["id"])).rc == 0
    # the pinned link stays (defunct) and no longer holds the map, which is freed (KD2)
    assert [ln["id"] for ln in json.loads(cli("link", "show", "-j").out)] == [links[0]["id"]]
    assert cli("struct_ops", "show", "-j").out == "[]\n"


def test_register_link_map_without_link_dir_is_released(cli: Cli) -> None:
    res = cli("struct_ops", "register", str(TESTDATA / "reno.bpf.o"))
    assert res.rc == 0 and "link id" in res.err and "Warning: no LINK_DIR" in res.err
    assert cli("struct_ops", "show").out == ""  # the command's fds closed, like bpftool's exit
    assert cli("link", "show", "-j").out == "[]\n"


def test_register_errors(cli: Cli) -> None:
    res = cli("struct_ops", "register", "/nonexistent.o")
    assert res.rc == 255 and res.err.startswith("Error: failed to open object file /nonexistent.o")
    res = cli("struct_ops", "register", str(TESTDATA / "dummy_ops.bpf.o"))
    assert res.rc == 255 and "can't register struct_ops" in res.err
    assert "Success" not in res.err  # bpftool 7.1 loses the errno here
    res = cli("struct_ops", "register", str(TESTDATA / "bad_license.bpf.o"))
    assert res.rc == 255 and res.err.startswith("Error: failed to load object file")


def test_unregister_of_a_link_map_points_to_link_detach(cli: Cli, two: dict[str, int]) -> None:
    """D2: a BPF_F_LINK map cannot be deleted (EOPNOTSUPP); the message names the way out."""
    links = json.loads(cli("link", "show", "-j").out)
    link_id = next(lk["id"] for lk in links if lk["map_id"] == two["so_reno"])
    res = cli("struct_ops", "unregister", "name", "so_reno")
    assert res.rc == 255
    assert res.err == (
        f"Error: can't unload tcp_congestion_ops so_reno id {two['so_reno']}: Operation not supported "
        f"(it is registered through a link: structops link detach id {link_id})\n"
    )
    assert cli("link", "detach", "id", str(link_id)).rc == 0
    assert json.loads(cli("struct_ops", "show", "-j").out)[0]["name"] == "so_reno"  # READY, no longer linked
