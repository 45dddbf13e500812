"""structops.testing on the real kernel: bpf_dummy_ops members through BPF_PROG_TEST_RUN.

The same calls as tests/unit/testing give the same results on Linux 6.18 (DM7).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from structops.kernel.emulated import EmulatedKernel
from structops.testing import DummyState, load_struct_ops

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
if not Path("/sys/kernel/btf/vmlinux").exists():
    _REASON: str | None = "no kernel BTF at /sys/kernel/btf/vmlinux"
elif os.geteuid() != 0:
    _REASON = "not root: CAP_BPF is needed for the real bpf() syscall"
else:
    _REASON = None
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def _results(kernel: object) -> list[object]:
    out: list[object] = []
    with load_struct_ops(TESTDATA / "dummy_ops.bpf.o", kernel=kernel) as ops:  # type: ignore[arg-type]
        st = DummyState(123)
        out += [ops.test_1(st), st.val, ops.test_1(None), ops.test_2(st, -5, 0x1_0002, 3, 7), st.val]
        out.append(ops.test_sleepable(st))
    return out


def test_dummy_ops_calls_agree_with_the_embedded_kernel() -> None:
    from structops.linux import LinuxKernel

    real = _results(LinuxKernel())
    assert real[:3] == [123, 0x5A, struct.unpack("<i", struct.pack("<I", 0xF2F3F4F5))[0]]
    assert real == _results(EmulatedKernel())
