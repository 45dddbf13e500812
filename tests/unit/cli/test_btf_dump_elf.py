"""``structops btf dump file OBJ.o`` reads the object's .BTF section, as bpftool does."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from structops.cli import main
from structops.loader._elf import ElfObject

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def test_elf_object_dumps_its_btf_section(tmp_path: Path) -> None:
    obj = TESTDATA / "reno.bpf.o"
    raw = tmp_path / "reno.btf"
    section = ElfObject(obj.read_bytes()).by_name(".BTF")
    assert section is not None
    raw.write_bytes(section.data)
    code, from_elf = _run("btf", "dump", "file", str(obj))
    assert code == 0
    assert from_elf == _run("btf", "dump", "file", str(raw))[1]
    assert "STRUCT 'tcp_congestion_ops'" in from_elf and "FUNC 'so_reno_init'" in from_elf


def test_elf_object_without_btf_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = TESTDATA / "reno.bpf.o"
    data = bytearray(obj.read_bytes())
    elf = ElfObject(bytes(data))
    sec = elf.by_name(".BTF")
    assert sec is not None
    # rename the section ".BTF" -> ".XTF" in the section name table
    names = next(s for s in elf.sections if s.name in (".shstrtab", ".strtab"))
    pos = data.index(b".BTF\0", names.offset)
    data[pos + 1] = ord("X")
    bad = tmp_path / "nobtf.o"
    bad.write_bytes(bytes(data))
    code, _ = _run("btf", "dump", "file", str(bad))
    assert code != 0
    assert "without a .BTF section" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_same_listing_as_bpftool() -> None:
    obj = TESTDATA / "reno.bpf.o"
    ref = subprocess.run(["bpftool", "btf", "dump", "file", str(obj)], capture_output=True, text=True, check=True)
    assert _run("btf", "dump", "file", str(obj))[1] == ref.stdout
