"""`structops btf dump file PATH [format raw|c] [--type NAME]` through cli.main(argv, stdout)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from structops.cli import main

FIXTURE = Path(__file__).resolve().parents[3] / "testdata" / "btf" / "types.bpfel.btf"
GOLDEN = FIXTURE.with_name("types.bpftool.txt")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_raw_dump_equals_bpftool_listing() -> None:
    rc, text = run("btf", "dump", "file", str(FIXTURE))
    assert rc == 0 and text == GOLDEN.read_text()
    rc2, text2 = run("btf", "dump", "file", str(FIXTURE), "format", "raw")
    assert rc2 == 0 and text2 == text


def test_c_dump_of_one_type() -> None:
    rc, text = run("btf", "dump", "file", str(FIXTURE), "format", "c", "--type", "flags")
    assert rc == 0
    assert "struct flags {" in text and "struct node" not in text


def test_raw_dump_of_one_type() -> None:
    rc, text = run("btf", "dump", "file", str(FIXTURE), "--type", "color")
    assert rc == 0 and text.splitlines()[0].startswith("[23] ENUM 'color' encoding=UNSIGNED size=4 vlen=3")


def test_errors_exit_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"not btf at all, definitely not")
    assert run("btf", "dump", "file", str(bad))[0] == 1
    assert run("btf", "dump", "file", str(tmp_path / "missing"))[0] == 1
    assert run("btf", "dump", "file", str(FIXTURE), "--type", "no_such_type")[0] == 1
    assert run("btf", "frobnicate")[0] == 2
    assert run()[0] == 2


def test_python_dash_m_entry_point() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "structops", "btf", "dump", "file", str(FIXTURE), "--type", "u8"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout == "[22] TYPEDEF 'u8' type_id=17\n"
