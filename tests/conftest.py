"""Shared test configuration: bounded hypothesis profiles and real-kernel skips."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=20000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
# The oracle scenarios (tests/kernel/test_linux_scenarios.py) are shared with the
# embedded-kernel and differential suites.
sys.path.insert(0, str(ROOT / "tests" / "kernel"))
TESTDATA = ROOT / "testdata"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


from realkernel import real_kernel_skip_reason  # noqa: E402  (tests/kernel is on sys.path now)

__all__ = ["TESTDATA", "VMLINUX_BTF", "real_kernel_skip_reason"]


@pytest.fixture
def vmlinux_btf_bytes() -> bytes:
    """Raw BTF of the running kernel (skips with a reason where it is missing)."""
    if not VMLINUX_BTF.exists():
        pytest.skip("no kernel BTF at /sys/kernel/btf/vmlinux")
    return VMLINUX_BTF.read_bytes()
