"""``structops run`` names what is wrong with the object path it was given."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from structops.cli import main

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def test_directory_is_not_called_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(TESTDATA), "--no-progress"], io.StringIO())
    err = capsys.readouterr().err
    assert code == 2
    assert "is a directory: give a BPF object file" in err and "reno.bpf.o" not in err.split("(it has")[0]
    assert "(it has bad_license.bpf.o" in err


def test_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(tmp_path / "nope.bpf.o"), "--no-progress"], io.StringIO())
    assert code == 2
    assert f"no such object file: {tmp_path / 'nope.bpf.o'}" in capsys.readouterr().err
