"""``structops sweep`` option and grid-file errors: a clear message and exit status 2."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structops.cli import main


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "g.toml"
    path.write_text('objects = ["reno"]\nduration = "100ms"\n')
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["--scheduler", "127.0.0.1:8786"], "tcp://HOST:PORT"),
        (["--progress", "--no-progress"], "only one of --progress"),
    ],
)
def test_bad_options(grid_file: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(grid_file), *extra], io.StringIO()) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('objects = ["reno"]\nflws = 2\n', "unknown key(s) 'flws'"),
        ("objects = [reno]\n", "not valid TOML"),
        ('objects = ["reno"]\nbandwidth = "fast"\n', "bandwidth: bad rate 'fast'"),
        ("flows = 2\n", "objects: required"),
    ],
)
def test_bad_grid_files(tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")], io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.startswith("structops sweep: error: ") and message in err
    assert not (tmp_path / "o").exists()


def test_linux_kernel_is_refused(grid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kernel", "linux", "sweep", str(grid_file)], io.StringIO()) == 2
    assert "embedded kernel" in capsys.readouterr().err


def test_missing_grid_and_out_not_a_directory(
    grid_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(tmp_path / "nope.toml")], io.StringIO()) == 2
    assert "cannot read grid file" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["sweep", str(grid_file), "--out", str(tmp_path / "file")], io.StringIO()) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_unreachable_scheduler_fails_with_status_1(grid_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "structops",
            "sweep",
            str(grid_file),
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "structops sweep: error:" in proc.stderr and "127.0.0.1" in proc.stderr


def test_import_structops_sweep_stays_light() -> None:
    code = (
        "import sys, structops.sweep, structops.cli; "
        "print(sorted(m for m in ('dask', 'distributed', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_dry_run_lists_points_without_running(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        'objects = ["reno", "cubic_like"]\nflows = [1, 4]\nloss = 0.01\nexclude = [{flows = 4, objects = "reno"}]\n'
    )
    out = io.StringIO()
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "o")], out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("3 points of kind 'tcp' (1 excluded); the same for all: ")
    assert "loss=0.01" in lines[0] and "flows=" not in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["0", "1", "2"]
    assert lines[1].split()[2:] == ["reno", "object=reno", "flows=1"]
    assert lines[3].split()[2:] == ["cubic_like", "object=cubic_like", "flows=4"]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("missing", ["distributed", "pyarrow"])
def test_missing_extra_is_named(grid_file: Path, tmp_path: Path, missing: str) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None; from structops.cli import main; "
        f"sys.exit(main(['sweep', {str(grid_file)!r}, '--out', {str(tmp_path / 'o')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "the sweep needs the 'sweep' extra" in proc.stderr and missing in proc.stderr
