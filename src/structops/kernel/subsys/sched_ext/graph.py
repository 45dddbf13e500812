"""Allocated objects and rbtrees at run time (kernel/bpf/helpers.c kfuncs, Linux 6.18).

- ``bpf_obj_new_impl(type_id, meta)``: a zeroed object of the program-BTF struct
  ``type_id`` (the running program's own BTF gives the size), or NULL.
- ``bpf_obj_drop_impl(p, meta)``: frees it after an RCU grace period.
- ``bpf_rbtree_add_impl(root, node, less, meta, off)``: inserts ``node`` (the address of the
  ``bpf_rb_node`` inside an object) into the tree at ``root``, walking from the root with the
  program's ``less(a, b)`` callback as ``rb_add`` does (``less(node, other)`` true: go left),
  so equal keys keep insertion order; a node already in a tree is refused (``-EINVAL``) and
  dropped.
- ``bpf_rbtree_first(root)``: the leftmost node or NULL; ``bpf_rbtree_remove(root, node)``:
  unlinks ``node`` and returns it, NULL when it is not in this tree.

A tree is kept here as the ordered list of its node addresses, keyed by the root's
address (the 16 ``bpf_rb_root`` bytes in the map value stay as the program sees them).
The kfuncs that call back into BPF are registered with the VM directly, so they get the
running program (its ``less`` function and BTF).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.subsystem import KfuncDef
from structops.uapi import ProgType
from structops.verifier.ops import KF

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation

__all__ = ["GraphRuntime", "graph_kfunc_defs", "install_graph_runtime"]

M64 = (1 << 64) - 1
_ACQ, _REL, _NULL = 1, 2, 4
_FLAGS = {
    "bpf_obj_new_impl": _ACQ | _NULL,
    "bpf_obj_drop_impl": _REL,
    "bpf_rbtree_add_impl": 0,
    "bpf_rbtree_first": _NULL,
    "bpf_rbtree_remove": _ACQ | _NULL,
}
_PROGS = frozenset(
    {
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        ProgType.BPF_PROG_TYPE_TRACING,
        ProgType.BPF_PROG_TYPE_LSM,
        ProgType.BPF_PROG_TYPE_SYSCALL,
        ProgType.BPF_PROG_TYPE_SCHED_CLS,
        ProgType.BPF_PROG_TYPE_XDP,
    }
)


def graph_kfunc_defs() -> list[KfuncDef]:
    """Kernel-side registrations (flags, program types); the VM implementations come from
    :func:`install_graph_runtime`."""
    return [KfuncDef(n, lambda *_: 0, KF(f), _PROGS) for n, f in _FLAGS.items()]


class GraphRuntime:
    """The trees and objects of one kernel."""

    def __init__(self, kernel: EmulatedKernel) -> None:
        self.kernel = kernel
        self.trees: dict[int, list[int]] = {}
        self.node_root: dict[int, int] = {}
        self.objects: dict[int, Allocation] = {}
        self._btf_of: dict[int, Any] = {}

    def _prog_btf(self, vmprog: Any) -> Any:
        key = id(vmprog)
        spec = self._btf_of.get(key)
        if spec is None:
            for p in list(self.kernel.ids["prog"]):
                pbtf = getattr(p, "btf", None)
                if getattr(p, "vm_program", None) is vmprog and pbtf is not None:
                    spec = pbtf.spec
                    break
            self._btf_of[key] = spec
        return spec

    # -- kfuncs (VM calling convention: run, r1..r5) ---------------------------------------
    def obj_new(self, run: Any, type_id: int, *_: int) -> int:
        spec = self._prog_btf(run.program)
        if spec is None:
            return 0
        try:
            t = btflib.underlying(spec.type_by_id(type_id))
        except (KeyError, IndexError):
            return 0
        a = self.kernel.kmem.alloc(max(8, (btflib.sizeof(t) + 7) & ~7), f"bpf_obj {getattr(t, 'name', '')}")
        self.objects[a.addr] = a
        _grant(run, a.addr)
        return a.addr

    def obj_drop(self, run: Any, p: int, *_: int) -> int:
        a = self.objects.pop(p, None)
        if a is not None:
            kmem = self.kernel.kmem
            self.kernel.rcu.call_rcu(lambda: kmem.free(a))
        return 0

    def rbtree_add(self, run: Any, root: int, node: int, less: int, meta: int, off: int) -> int:
        if node in self.node_root:
            self.obj_drop(run, node - off)
            return -errno.EINVAL & M64
        tree = self.trees.setdefault(root, [])
        prog = run.program

        def goes_before(other: int) -> bool:
            _grant(run, other)  # the callback reads the node it is compared with
            return bool(prog.call_function(run, less, (node, other)) & 0xFF)

        # rb_add: descend left where less(node, parent), else right: the node goes before
        # the first one it is less than (O(log n) calls, as the tree walk makes)
        lo, hi = 0, len(tree)
        while lo < hi:
            mid = (lo + hi) // 2
            if goes_before(tree[mid]):
                hi = mid
            else:
                lo = mid + 1
        tree.insert(lo, node)
        self.node_root[node] = root
        return 0

    def rbtree_first(self, run: Any, root: int, *_: int) -> int:
        tree = self.trees.get(root)
        return _grant(run, tree[0]) if tree else 0

    def rbtree_remove(self, run: Any, root: int, node: int, *_: int) -> int:
        if self.node_root.get(node) != root:
            return 0
        self.trees[root].remove(node)
        del self.node_root[node]
        return _grant(run, node)


def _grant(run: Any, addr: int) -> int:
    """The running program may touch the object ``addr`` is in (as the kfunc returned it)."""
    region = run.vm.space.region_at(addr)
    if region is not None:
        run.grants.add(region.base)
    return addr


def install_graph_runtime(kernel: EmulatedKernel) -> GraphRuntime | None:
    """Give the VM run-aware implementations of the graph kfuncs (after they are registered)."""
    ex = getattr(kernel, "executor", None)
    if ex is None:
        return None
    from structops.vm.kfuncs import KfuncSpec

    rt = GraphRuntime(kernel)
    impl = {
        "bpf_obj_new_impl": rt.obj_new,
        "bpf_obj_drop_impl": rt.obj_drop,
        "bpf_rbtree_add_impl": rt.rbtree_add,
        "bpf_rbtree_first": rt.rbtree_first,
        "bpf_rbtree_remove": rt.rbtree_remove,
    }
    for name, fn in impl.items():
        btf_id = kernel.vmlinux.spec.type_id(kernel.vmlinux.spec.find(name, btflib.Func))

        def call(run: Any, r1: int, r2: int, r3: int, r4: int, r5: int, _fn: Any = fn) -> int:
            return int(_fn(run, r1, r2, r3, r4, r5)) & M64

        ex.vm.kfuncs.register(
            KfuncSpec(name, call, btf_id=btf_id, btf_fd_idx=0, prog_types=_PROGS), replace_existing=True
        )
    kernel.__dict__["graph_runtime"] = rt
    return rt
