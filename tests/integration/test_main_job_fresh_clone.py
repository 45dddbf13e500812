"""The README's main-job command works from a fresh clone, installed (not editable), no root, no clang."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _main_job_command() -> list[str]:
    """The `structops run ...` part of the README's main-job line (kept in sync by reading it)."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if "structops run" in line and "pip install" in line:
            return shlex.split(line.split("&&", 1)[1].strip())
    raise AssertionError("README has no main-job command")


@pytest.mark.slow
def test_readme_main_job_from_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # Build the wheel with the interpreter running the tests (its '.[test]' extras bring
    # setuptools and wheel), then install it into a brand-new venv that has pip (ensurepip,
    # offline) and nothing else: the base interpreter's packages play no part.
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(clone)],
        check=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    wheels = sorted(dist.glob("structops-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # The run-time dependencies (pyelftools, matplotlib) come from the test environment,
    # appended after the venv's own site-packages so the installed wheel wins.
    site_dir = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_dir / "zz_test_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    # without PYTHONPATH: a source tree on it (with an editable install's egg-info) would make
    # pip take structops as installed already and skip the wheel
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheels[0])],
        check=True,
        timeout=300,
        env={**clean, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    work = tmp_path / "work"
    work.mkdir()
    argv = _main_job_command()
    assert argv[0] == "structops"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["MPLBACKEND"] = "Agg"
    out = subprocess.run(
        [str(env_dir / "bin" / "structops"), *argv[1:]],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "BPF_LINK_UPDATE" in text
    assert "tcp_congestion_ops" in text  # the bpftool-style view of what is registered
    assert "Jain index" in text and "utilisation" in text
    # the installed package, not the checkout, was used
    where = subprocess.run(
        [str(py), "-c", "import structops, sys; print(structops.__file__)"], capture_output=True, text=True, cwd=work
    ).stdout
    assert str(ROOT / "src") not in where
    plot = work / "cwnd.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (work / "trace.csv").read_text().splitlines()
    assert len(rows) > 10
