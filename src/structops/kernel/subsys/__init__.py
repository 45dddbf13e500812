"""Built-in struct_ops subsystems of the embedded kernel (each one a kernel "module").

``install_builtin`` registers what Linux 6.18 offers on the project machines:
``bpf_dummy_ops`` (DM1-DM7) and ``tcp_congestion_ops`` (T1-T11), both in vmlinux BTF.
The selftests' ``bpf_testmod`` is a loadable module (:mod:`.testmod`), not built in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel


def install_builtin(kernel: EmulatedKernel) -> None:
    """Register the built-in struct_ops types (late_initcall order: dummy, then tcp)."""
    from structops.kernel.subsys import dummy_ops, sched_ext, tcp_ca

    dummy_ops.install(kernel)
    tcp_ca.install(kernel)
    sched_ext.install(kernel)
