"""Kernel objects run on the services interface alone (kernel/services.py), not on EmulatedKernel."""

from __future__ import annotations

import ast
import errno
import struct
from collections.abc import Mapping
from pathlib import Path

import pytest

from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.kmem import KernelMemory
from structops.kernel.maps.array import ArrayMap
from structops.kernel.maps.hash import HashMap
from structops.kernel.objects import IdTable
from structops.kernel.rcu import Rcu
from structops.kernel.services import ALL_CAPS, CAP_BPF, CAP_SYS_ADMIN, KernelServices, ProcessServices
from structops.uapi import MapType

KERNEL = Path(__file__).resolve().parents[3] / "src" / "structops" / "kernel"

#: Modules of kernel objects: none may import the emulated kernel or the syscall layer,
#: not even for type checking (they are given KernelServices / StructOpsServices).
OBJECT_MODULES = [
    "objects.py",
    "services.py",
    "prog.py",
    "btf_obj.py",
    "rcu.py",
    "kmem.py",
    "info.py",
    "executor.py",
    "maps/base.py",
    "maps/array.py",
    "maps/hash.py",
    *(f"struct_ops/{p.name}" for p in sorted((KERNEL / "struct_ops").glob("*.py"))),
]


class FakeProcess:
    """A process with no fds: enough for objects that never look one up."""

    umem = None

    def capable(self, cap: int) -> bool:
        return cap in ALL_CAPS

    def bpf_capable(self) -> bool:
        return True

    def get_prog(self, fd: int):  # type: ignore[no-untyped-def]
        raise BpfError(errno.EBADF, "no fds")

    def get_map(self, fd: int):  # type: ignore[no-untyped-def]
        raise BpfError(errno.EBADF, "no fds")


class FakeServices:
    """The smallest KernelServices: ids, RCU, kernel memory, a log, one process."""

    def __init__(self) -> None:
        self.ids: Mapping[str, IdTable] = {k: IdTable() for k in ("map", "prog", "link", "btf")}
        self.rcu = Rcu()
        self.kmem = KernelMemory()
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)

    def current_process(self) -> ProcessServices:
        return FakeProcess()  # type: ignore[return-value]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("rel", OBJECT_MODULES)
def test_object_modules_do_not_import_the_emulated_kernel(rel: str) -> None:
    mods = _imports(KERNEL / rel)
    assert "structops.kernel.emulated" not in mods
    assert "structops.kernel.syscall" not in mods


@pytest.mark.parametrize("cls", [ArrayMap, HashMap])
def test_map_lives_on_services_alone(cls: type[ArrayMap] | type[HashMap]) -> None:
    """F3: the last put frees the id at once and the memory after a grace period."""
    k = FakeServices()
    services: KernelServices = k
    mtype = MapType.BPF_MAP_TYPE_ARRAY if cls is ArrayMap else MapType.BPF_MAP_TYPE_HASH
    attr = MapCreateAttr(mtype, 4, 8, 4)
    cls.alloc_check(attr)
    m = cls(services, attr)
    k.ids["map"].add(m)
    m.update(struct.pack("<I", 1), b"abcdefgh", 0)
    assert m.lookup(struct.pack("<I", 1)) == b"abcdefgh"
    live = len(k.kmem.live())
    assert live >= 1
    with k.rcu.read_lock():
        m.put()
        assert m.freed and k.ids["map"].get(m.id) is None
        assert len(k.kmem.live()) == live  # a reader may still see the value
    k.rcu.synchronize()
    assert k.kmem.live() == []


def test_emulated_kernel_provides_the_services() -> None:
    k = EmulatedKernel()
    services: KernelServices = k
    assert services.current_process() is k.root
    assert k.root.capable(CAP_SYS_ADMIN) and k.root.capable(CAP_BPF)
    unpriv = k.process(set())
    assert not unpriv.capable(CAP_BPF)
