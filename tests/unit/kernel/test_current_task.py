"""``bpf_get_current_task_btf`` on the embedded kernel (issue 12 item 2: trusted BTF
pointers; item 4: a program reaches only objects helpers return to it).

Embedded programs run from the kernel's own context, whose task is the idle task (pid 0,
``swapper/0``, its own ``group_leader`` / ``real_parent``; ``cpus_ptr`` its ``cpus_mask``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from structops import btf as btflib
from structops.kernel.emulated import EmulatedKernel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "testrun"))

from testrun_asm import PKT, TC, load, run


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


def _offsets(k: EmulatedKernel) -> dict[str, int]:
    task = k.vmlinux.spec.find("task_struct", btflib.Struct)
    return {m.name: m.bit_offset // 8 for m in task.members if m.name}


def test_current_task_is_the_idle_task_through_walked_fields(k: EmulatedKernel) -> None:
    """pid of ->group_leader (0) + comm[0] ('s') + pid of ->real_parent->group_leader (0)."""
    o = _offsets(k)
    fd = load(
        k,
        TC,
        f"call 158\nmov %r6, %r0\nldxdw %r1, [%r6+{o['group_leader']}]\nldxw %r0, [%r1+{o['pid']}]\n"
        f"ldxb %r2, [%r6+{o['comm']}]\nadd %r0, %r2\nldxdw %r1, [%r6+{o['real_parent']}]\n"
        f"ldxdw %r1, [%r1+{o['group_leader']}]\nldxw %r2, [%r1+{o['pid']}]\nadd %r0, %r2\nexit",
    )
    assert run(k, fd, data_in=PKT).retval == ord("s")


def test_current_task_cpus_ptr_is_its_cpus_mask_with_cpu0(k: EmulatedKernel) -> None:
    o = _offsets(k)
    fd = load(k, TC, f"call 158\nldxdw %r1, [%r0+{o['cpus_ptr']}]\nldxb %r0, [%r1+0]\nexit")
    assert run(k, fd, data_in=PKT).retval == 1


def test_current_task_is_one_object(k: EmulatedKernel) -> None:
    """Two calls give the same task (its address, not a fresh allocation per call)."""
    fd = load(
        k, TC, "call 158\nmov %r6, %r0\ncall 158\nmov %r1, 0\njeq %r0, %r6, eq\nmov %r0, 0\nexit\neq:\nmov %r0, 1\nexit"
    )
    assert run(k, fd, data_in=PKT).retval == 1
