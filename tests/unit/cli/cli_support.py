"""Shared helpers of the bpftool-style CLI tests (types and paths; fixtures are in conftest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


@dataclass
class Result:
    """What one CLI invocation produced."""

    rc: int
    out: str
    err: str


Cli = Callable[..., Result]
