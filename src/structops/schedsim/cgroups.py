"""The simulated machine's cgroup hierarchy, each cgroup with its ``struct cgroup`` in kernel memory.

The root cgroup (id 1, level 0) always exists; a workload group becomes a child cgroup of
the root named after it.  BPF programs read ``cgrp->level`` and ``cgrp->kn->id`` (the
cgroup id, as ``cgroup_id()``), and get cgroups from ``scx_bpf_task_cgroup``,
``bpf_cgroup_ancestor`` and ``bpf_cgroup_from_id``; sched_ext calls ``ops.cgroup_init`` for
each in pre-order when a scheduler loads and ``ops.cgroup_exit`` in post-order when it
unloads (SX-T30).  ``weight`` is the cgroup's cpu.weight (1..10000, default 100).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.kernel.btfview import field_path

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation

__all__ = ["CGROUP_WEIGHT_DFL", "Cgroup", "CgroupTree"]

CGROUP_WEIGHT_DFL = 100


@dataclass(eq=False)
class Cgroup:
    """One cgroup: its place in the tree, cpu.weight and kernel objects."""

    id: int
    name: str
    parent: Cgroup | None
    weight: int = CGROUP_WEIGHT_DFL
    kstruct: Allocation | None = None  # struct cgroup, then its struct kernfs_node
    children: list[Cgroup] = field(default_factory=list)

    @property
    def level(self) -> int:
        """Depth below the root (root: 0)."""
        return 0 if self.parent is None else self.parent.level + 1

    @property
    def addr(self) -> int:
        """Kernel address of the ``struct cgroup``."""
        assert self.kstruct is not None
        return self.kstruct.addr

    @property
    def path(self) -> str:
        """``/`` for the root, ``/a/b`` below it."""
        if self.parent is None:
            return "/"
        up = self.parent.path
        return f"{up.rstrip('/')}/{self.name}"

    def ancestor(self, level: int) -> Cgroup | None:
        """``cgroup_ancestor``: the ancestor at ``level`` (itself at its own level), None deeper."""
        if not 0 <= level <= self.level:
            return None
        c: Cgroup = self
        while c.level > level:
            assert c.parent is not None
            c = c.parent
        return c


class CgroupTree:
    """All cgroups of a machine, by id and by kernel address."""

    def __init__(self, kernel: EmulatedKernel) -> None:
        self.kernel = kernel
        spec = kernel.vmlinux.spec
        cg = spec.find("cgroup", btflib.Struct)
        kn = spec.find("kernfs_node", btflib.Struct)
        self._cg_size, self._kn_size = cg.size, kn.size
        self._off_level = field_path(cg, "level").offset
        self._off_kn = field_path(cg, "kn").offset
        self._off_id = field_path(kn, "id").offset
        self._by_id: dict[int, Cgroup] = {}
        self._by_addr: dict[int, Cgroup] = {}
        self._next_id = 1
        #: Cgroups whose ``ops.cgroup_init`` succeeded for the loaded scheduler (pre-order).
        self.inited: list[Cgroup] = []
        self.root = self._make("", None, CGROUP_WEIGHT_DFL)

    def _make(self, name: str, parent: Cgroup | None, weight: int) -> Cgroup:
        c = Cgroup(self._next_id, name, parent, weight)
        self._next_id += 1
        # one allocation: the struct cgroup, then its kernfs_node (a program given the cgroup
        # may follow cgrp->kn into memory it was given)
        kn_at = (self._cg_size + 7) & ~7
        c.kstruct = self.kernel.kmem.alloc(kn_at + self._kn_size, f"cgroup {name or '/'}")
        struct.pack_into("<i", c.kstruct.buf, self._off_level, c.level)
        struct.pack_into("<Q", c.kstruct.buf, self._off_kn, c.kstruct.addr + kn_at)
        struct.pack_into("<Q", c.kstruct.buf, kn_at + self._off_id, c.id)
        if parent is not None:
            parent.children.append(c)
        self._by_id[c.id] = c
        self._by_addr[c.addr] = c
        return c

    def add(self, name: str, parent: Cgroup | None = None, weight: int = CGROUP_WEIGHT_DFL) -> Cgroup:
        """Create cgroup ``name`` under ``parent`` (the root by default)."""
        if not 1 <= weight <= 10000:
            raise ValueError(f"cgroup {name!r}: weight {weight} is outside cpu.weight's 1..10000")
        parent = parent or self.root
        if any(c.name == name for c in parent.children):
            raise ValueError(f"cgroup {name!r} already exists under {parent.path}")
        return self._make(name, parent, weight)

    def get(self, name: str) -> Cgroup | None:
        """The direct child of the root named ``name``."""
        return next((c for c in self.root.children if c.name == name), None)

    def by_id(self, cgid: int) -> Cgroup | None:
        """``cgroup_get_from_id``."""
        return self._by_id.get(cgid)

    def by_addr(self, addr: int) -> Cgroup | None:
        """The cgroup whose ``struct cgroup`` is at ``addr``."""
        return self._by_addr.get(addr)

    def pre_order(self) -> list[Cgroup]:
        """Root first, each cgroup before its children (``css_for_each_descendant_pre``)."""
        out: list[Cgroup] = []

        def walk(c: Cgroup) -> None:
            out.append(c)
            for ch in c.children:
                walk(ch)

        walk(self.root)
        return out

    def post_order(self) -> list[Cgroup]:
        """Children before their parent, the root last."""
        out: list[Cgroup] = []

        def walk(c: Cgroup) -> None:
            for ch in c.children:
                walk(ch)
            out.append(c)

        walk(self.root)
        return out

    def close(self) -> None:
        """Free every cgroup's kernel objects (and its cgroup local storage)."""
        from structops.kernel.maps.sk_storage import CgrpStorageMap

        for c in self._by_id.values():
            if c.kstruct is not None:
                CgrpStorageMap.free_owner(self.kernel, c.addr)
                self.kernel.kmem.free(c.kstruct)
        self._by_id.clear()
        self._by_addr.clear()
