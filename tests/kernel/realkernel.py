"""When the real-kernel tests can run (a plain module: nested conftest.py files can shadow
``conftest`` in ``sys.modules``, so tests import this instead)."""

from __future__ import annotations

import os
from pathlib import Path

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


def real_kernel_skip_reason() -> str | None:
    """Why the real-kernel tests cannot run here, or None when they can."""
    if not VMLINUX_BTF.exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None
