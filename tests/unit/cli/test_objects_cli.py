# ruff: noqa: F811  (the cli / kernel fixtures are imported from cli_support)
"""``structops map|prog|link ...`` and the session helpers on the embedded kernel.

Values are checked against what the API reports for the same objects; layouts against
bpftool 7.1 output captured on the project machine (kernel-6.18-observed section 3).
"""

from __future__ import annotations

import io
import json
import re

import pytest
from cli_support import TESTDATA, Cli, cli, kernel  # noqa: F401 (fixtures)

from structops.api import Collection, Link
from structops.cli import main, run_commands
from structops.cli.session import release_loaded
from structops.kernel.emulated import EmulatedKernel

MAP_KEYS = ["id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries", "bytes_memlock", "frozen"]


@pytest.fixture
def reno(kernel: EmulatedKernel) -> tuple[Collection, Link]:
    coll = Collection.open(TESTDATA / "reno.bpf.o").load(kernel)
    link = coll.maps["so_reno"].attach_struct_ops()
    return coll, link


def test_map_show_json_and_text(cli: Cli, reno: tuple[Collection, Link]) -> None:
    coll, _ = reno
    rows = {r["name"]: r for r in json.loads(cli("map", "show", "-j").out)}
    so = rows["so_reno"]
    assert list(so)[: len(MAP_KEYS)] == MAP_KEYS
    assert so["id"] == coll.maps["so_reno"].id and so["type"] == "struct_ops"
    assert so["flags"] == 0x2000 and so["bytes_key"] == 4 and so["bytes_value"] == coll.maps["so_reno"].value_size
    assert so["btf_id"] > 0
    text = cli("map", "show", "id", str(so["id"])).out
    assert text.splitlines() == [
        f"{so['id']}: struct_ops  name so_reno  flags 0x2000",
        f"\tkey 4B  value {so['bytes_value']}B  max_entries 1  memlock 5264B",  # as bpftool on Linux 6.18 (M1)
        f"\tbtf_id {so['btf_id']}",
    ]
    assert json.loads(cli("map", "show", "id", str(so["id"]), "-j").out) == so
    pretty = cli("map", "list", "id", str(so["id"]), "-p").out
    assert pretty.startswith('{\n    "id": ') and json.loads(pretty) == so


def test_map_dump_hex_and_json(cli: Cli, reno: tuple[Collection, Link]) -> None:
    """A global-data map has BTF (key/value type ids, as libbpf sends): bpftool prints it
    formatted from BTF, and -j adds ``formatted`` to the hex key/value (the exact layout
    bpftool 7.1 printed for the same object on the real kernel)."""
    coll, _ = reno
    bss = coll.maps[".bss"]
    value = bytes(range(1, bss.value_size + 1))
    bss.update(0, value)
    res = cli("map", "dump", "id", str(bss.id))
    names = ["n_init", "n_release", "n_ssthresh", "n_cong_avoid", "n_undo"]
    nums = [int.from_bytes(value[8 * i : 8 * i + 8], "little") for i in range(5)]
    body = "                },{\n".join(f'                    "{n}": {v}\n' for n, v in zip(names, nums, strict=True))
    expect = (
        '[{\n        "value": {\n            ".bss": [{\n'
        + body
        + "                }\n            ]\n        }\n    }\n]\n"
    )
    assert res.out == expect
    doc = json.loads(cli("map", "dump", "id", str(bss.id), "-j").out)
    assert doc == [
        {
            "key": ["0x00"] * 4,
            "value": [f"0x{b:02x}" for b in value],
            "formatted": {"value": {".bss": [{n: v} for n, v in zip(names, nums, strict=True)]}},
        }
    ]


def test_map_dump_short_rows_and_struct_ops_formatted(cli: Cli, kernel: EmulatedKernel) -> None:
    from structops.kernel.attrs import MapCreateAttr, MapElemAttr
    from structops.uapi import Cmd

    fd = kernel.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(1, 4, 16, 4, map_name="probe"))
    kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=bytes(range(4)), value=bytes(range(100, 116))))
    shown = json.loads(cli("map", "show", "-j").out)
    res = cli("map", "dump", "id", str(shown[0]["id"]))
    # the exact row bpftool 7.1 printed for the same map on the real kernel
    assert res.out == "key: 00 01 02 03  value: 64 65 66 67 68 69 6a 6b  6c 6d 6e 6f 70 71 72 73\nFound 1 element\n"
    coll = Collection.open(TESTDATA / "cubic_like.bpf.o").load(kernel)
    coll.maps["so_cubic"].attach_struct_ops()
    so_id = coll.maps["so_cubic"].id
    doc = json.loads(cli("map", "dump", "id", str(so_id), "-j").out)
    assert len(doc) == 1 and len(doc[0]["value"]) == 256
    data = doc[0]["formatted"]["value"]["data"]
    init_id = coll.programs["so_cubic_init"].id
    assert data["init"] == init_id and data["name"] == "so_cubic"
    plain = json.loads(cli("map", "dump", "id", str(so_id)).out)
    assert plain[0]["value"]["data"]["init"] == hex(init_id)


def test_prog_show(cli: Cli, reno: tuple[Collection, Link]) -> None:
    coll, _ = reno
    progs = json.loads(cli("prog", "show", "-j").out)
    by_id = {p["id"]: p for p in progs}
    init = by_id[coll.programs["so_reno_init"].id]
    keys = ["id", "type", "name", "tag", "gpl_compatible", "loaded_at", "uid", "bytes_xlated", "jited"]
    assert list(init)[: len(keys)] == keys
    assert init["type"] == "struct_ops" and init["name"] == "so_reno_init" and init["gpl_compatible"] is True
    assert re.fullmatch(r"[0-9a-f]{16}", init["tag"])
    assert init["map_ids"] == [coll.maps[".bss"].id]
    text = cli("prog", "show", "id", str(init["id"])).out.splitlines()
    assert text[0] == f"{init['id']}: struct_ops  name so_reno_init  tag {init['tag']}  gpl"
    assert re.fullmatch(r"\tloaded_at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000  uid 0", text[1])
    assert text[2].startswith(f"\txlated {init['bytes_xlated']}B  ")
    assert text[2].endswith(f"map_ids {init['map_ids'][0]}")
    res = cli("prog", "show", "id", "4242")
    assert res.rc == 255 and res.err == "Error: get by id (4242): No such file or directory\n"
    res = cli("prog", "show", "id", "4242", "-j")
    assert json.loads(res.out) == {"error": "get by id (4242): No such file or directory"}


def test_link_show_and_detach(cli: Cli, reno: tuple[Collection, Link]) -> None:
    coll, link = reno
    info = link.info()
    rows = json.loads(cli("link", "show", "-j").out)
    assert rows == [{"id": info["id"], "type": "struct_ops", "prog_id": 0, "map_id": coll.maps["so_reno"].id}]
    text = cli("link", "show", "id", str(info["id"])).out
    assert text == f"{info['id']}: struct_ops  prog 0  map {info['map_id']}  \n"
    assert cli("link", "detach", "id", str(info["id"])).rc == 0
    assert json.loads(cli("struct_ops", "dump", "-j").out)[1]["bpf_struct_ops_tcp_congestion_ops"]["common"][
        "state"
    ] in ("BPF_STRUCT_OPS_STATE_READY", "BPF_STRUCT_OPS_STATE_TOBEFREE")
    res = cli("link", "show", "id", "777")
    assert res.rc == 254 and res.err == "Error: failed to get link with ID 777: No such file or directory\n"
    res = cli("link", "detach", "id", "777")
    assert res.rc == 1 and res.err == "Error: failed to get link with ID 777: No such file or directory\n"
    res = cli("link", "show", "name", "x")
    assert res.rc == 255 and res.err == "Error: expected 'id', got: 'name'\n"


def test_load_option_on_a_fresh_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    rc = main(["--load", str(TESTDATA / "reno.bpf.o"), "--load", str(TESTDATA / "cubic_like.bpf.o"),
               "struct_ops", "show", "-j"], out)  # fmt: skip
    assert rc == 0
    assert sorted(r["name"] for r in json.loads(out.getvalue())) == ["so_cubic", "so_reno"]
    out = io.StringIO()
    assert main(["struct_ops", "show"], out) == 0 and out.getvalue() == ""  # a new embedded kernel each time
    rc = main(["--load", "/nonexistent.bpf.o", "struct_ops", "show"], io.StringIO())
    assert rc == 1 and "structops: error:" in capsys.readouterr().err


def test_run_commands_share_one_kernel(kernel: EmulatedKernel) -> None:
    out = io.StringIO()
    rcs = run_commands(
        kernel,
        [
            ["--load", str(TESTDATA / "reno.bpf.o"), "struct_ops", "show", "-j"],
            ["link", "show", "-j"],
            ["map", "show", "id", "99"],
        ],
        out,
    )
    assert rcs == [0, 0, 255]
    docs = out.getvalue().splitlines()
    shown, links = json.loads(docs[0]), json.loads(docs[1])
    assert [r["name"] for r in shown] == ["so_reno"]
    assert links[0]["map_id"] == shown[0]["id"]
    release_loaded(kernel)
    out = io.StringIO()
    run_commands(kernel, [["struct_ops", "show", "-j"], ["link", "show", "-j"]], out)
    assert out.getvalue() == "[]\n[]\n"
