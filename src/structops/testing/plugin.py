"""pytest plugin of structops: fixtures for unit-testing struct_ops programs.

Registered as the ``structops`` entry point in the ``pytest11`` group, so it is active
wherever structops is installed.  Fixtures:

``bpf_kernel``
    A fresh embedded kernel for the test; at teardown every fd the test left open is
    closed and the test fails if a map, program or link is still alive (a leak).
``load_bpf_cc``
    ``load_bpf_cc(obj, map_name=None)``: :func:`structops.testing.load_cc` on
    ``bpf_kernel``, closed at teardown.
``load_bpf_struct_ops``
    ``load_bpf_struct_ops(obj, map_name=None)``: :func:`structops.testing.load_struct_ops`
    on ``bpf_kernel``, closed at teardown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.testing import CongestionControlUnderTest, StructOpsUnderTest

T = TypeVar("T")


def leaked_objects(kernel: EmulatedKernel) -> dict[str, list[int]]:
    """Ids of maps, programs, links and BTF objects alive once nothing references them.

    The kernel's own BTF objects (vmlinux, loaded modules) are not leaks.
    """
    builtin = {kernel.vmlinux.id} | {m.btf_obj.id for m in kernel.modules.values() if m.btf_obj is not None}
    live = kernel.live_objects()
    live["btf"] = [i for i in live.get("btf", []) if i not in builtin]
    return {kind: ids for kind, ids in live.items() if ids}


@pytest.fixture
def bpf_kernel() -> Iterator[EmulatedKernel]:
    """A fresh embedded kernel; after the test its fds are closed and leaks fail the test."""
    from structops.kernel.emulated import EmulatedKernel

    kernel = EmulatedKernel()
    yield kernel
    kernel.root.exit()  # closes every fd, as process exit does
    kernel.rcu.synchronize()
    leaked = leaked_objects(kernel)
    if leaked:
        pytest.fail(f"objects still alive after the test closed everything: {leaked}")


def _factory(loader: Callable[..., T], kernel: EmulatedKernel) -> Iterator[Callable[..., T]]:
    """A factory fixture body: ``loader(obj, map_name, kernel=kernel)``; closes what it made."""
    made: list[Any] = []

    def factory(obj: str | Path | bytes, map_name: str | None = None) -> T:
        loaded = loader(obj, map_name, kernel=kernel)
        made.append(loaded)
        return loaded

    yield factory
    for loaded in reversed(made):
        with contextlib.suppress(OSError):
            loaded.close()


@pytest.fixture
def load_bpf_cc(bpf_kernel: EmulatedKernel) -> Iterator[Callable[..., CongestionControlUnderTest]]:
    """A factory: ``load_bpf_cc(obj, map_name=None)`` on the test's embedded kernel."""
    from structops.testing import load_cc

    yield from _factory(load_cc, bpf_kernel)


@pytest.fixture
def load_bpf_struct_ops(bpf_kernel: EmulatedKernel) -> Iterator[Callable[..., StructOpsUnderTest]]:
    """A factory: ``load_bpf_struct_ops(obj, map_name=None)`` on the test's embedded kernel."""
    from structops.testing import load_struct_ops

    yield from _factory(load_struct_ops, bpf_kernel)
