"""The project's own standards, checked with the tools the test extras install: ruff
(lint and format) over the sources, tests and benchmarks, and mypy over the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ["src", "tests", "benchmarks"]


def _tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_check_is_clean() -> None:
    proc = _tool("ruff", "check", "--no-cache", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean() -> None:
    proc = _tool("ruff", "format", "--check", "--no-cache", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    proc = _tool("mypy", "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
