"""Map-in-map scenarios on the real Linux kernel (the oracle for the embedded kernel's
``kernel/maps/map_in_map.py``); skipped where the real bpf() syscall is unavailable."""

from __future__ import annotations

from collections.abc import Callable

import map_in_map_scenarios as S
import pytest
from realkernel import real_kernel_skip_reason

from structops.kernel.protocol import Kernel

_SKIP = real_kernel_skip_reason()
pytestmark = [pytest.mark.linux, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


@pytest.fixture(scope="module")
def linux() -> Kernel:
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.mark.parametrize("name", [*S.SCENARIOS, "prog_array_inner"])
def test_map_in_map_on_linux(linux: Kernel, name: str) -> None:
    """The scenario holds on Linux 6.18."""
    scenario: Callable[[Kernel], None] = S.SCENARIOS.get(name) or S.scenario_prog_array_inner
    scenario(linux)


def test_struct_ops_map_cannot_be_inner_on_linux(linux: Kernel) -> None:
    """A struct_ops map (no map_meta_equal) as inner map template: ENOTSUPP on Linux 6.18."""
    import test_linux_scenarios as LS

    env = LS.resolve_env(linux.vmlinux_btf())  # type: ignore[attr-defined]
    S.scenario_struct_ops_inner(linux, env.tcp_value.type_id, env.tcp_value.size)
