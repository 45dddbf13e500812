"""Allocated objects and rbtrees in the verifier (``bpf_obj_new``, ``bpf_rbtree_*``; Linux 6.18).

``bpf_obj_new_impl(type_id)`` takes a constant id of a struct in the program's own BTF and
returns an owning reference (maybe NULL) to a new object of that type (``MEM_ALLOC``):
its fields can be read and written, except the ``bpf_rb_node``/``bpf_rb_root`` fields
inside it.  ``bpf_obj_drop_impl(p)`` releases an owning reference.

A ``struct bpf_rb_root`` in a map value declares what it holds with
``__contains(type, node)`` (BTF decl tag ``contains:type:node``).  ``bpf_rbtree_add_impl(root,
&obj->node, less, ...)`` takes an owning reference to an object of that type, pointing at
its node, and gives it to the tree: the caller's copies become non-owning references, usable
until the next ``bpf_spin_unlock``.  ``bpf_rbtree_first(root)``
returns a non-owning pointer to the first node (maybe NULL); ``bpf_rbtree_remove(root,
node)`` takes such a pointer and returns an owning reference (maybe NULL).  The pointers
point at the node inside the object (``off`` = the node's offset), as ``container_of``
expects.

``less(a, b)`` is verified as a callback of ``bpf_rbtree_add`` (a frame of its own, entered
with two non-NULL non-owning node pointers, returning 0 or 1), as Linux does.  The tree
calls need the ``bpf_spin_lock`` of the root's map value held (:mod:`structops.verifier.locks`).
"""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.verifier.env import Reject
from structops.verifier.state import NOT_INIT, Reg, RegType, State, unknown

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = [
    "GRAPH_KFUNCS",
    "alloc_access",
    "call_graph_kfunc",
    "enter_rbtree_less",
    "invalidate_non_owning",
    "is_alloc",
    "root_info",
]

GRAPH_KFUNCS = frozenset(
    {"bpf_obj_new_impl", "bpf_obj_drop_impl", "bpf_rbtree_add_impl", "bpf_rbtree_first", "bpf_rbtree_remove"}
)
_GRAPH_FIELDS = ("bpf_rb_node", "bpf_rb_root", "bpf_list_node", "bpf_list_head", "bpf_spin_lock")


def is_alloc(v: Verifier, reg: Reg) -> bool:
    """A ``PTR_TO_BTF_ID`` to a struct of the program's own BTF (an allocated object)."""
    t = reg.obj
    if reg.type != RegType.PTR_TO_BTF_ID or not isinstance(t, btflib.Struct):
        return False
    try:
        return v.env.spec.find(t.name, btflib.Struct) is not t
    except KeyError:
        return True


def _special_at(t: btflib.Struct, lo: int, hi: int) -> str | None:
    for m in t.members:
        u = btflib.underlying(m.type)
        if isinstance(u, btflib.Struct) and u.name in _GRAPH_FIELDS:
            start = m.bit_offset // 8
            if lo < start + u.size and start < hi:
                return str(u.name)
    return None


def alloc_access(regno: int, reg: Reg, off: int, size: int, write: bool) -> Reg | None:
    """A load/store through a pointer to an allocated object: inside the struct, and never
    into its graph fields."""
    t: btflib.Struct = reg.obj
    if reg.maybe_null:
        raise Reject(errno.EACCES, f"R{regno} invalid mem access 'ptr_or_null_'")
    if reg.var_off:
        raise Reject(errno.EACCES, f"R{regno} variable offset access to {t.name} is not allowed")
    lo = reg.off + off
    if lo < 0 or lo + size > t.size:
        raise Reject(errno.EACCES, f"access beyond struct {t.name} at off {lo} size {size}")
    special = _special_at(t, lo, lo + size)
    if special is not None:
        raise Reject(errno.EACCES, f"direct access to {special} is disallowed")
    return None if write else unknown()


def _prog_type(v: Verifier, type_id: int) -> btflib.Struct:
    spec = getattr(v.env, "prog_btf", None)
    if spec is None:
        raise Reject(errno.EINVAL, "bpf_obj_new needs the program's BTF (load it with prog_btf_fd)")
    try:
        t = btflib.underlying(spec.type_by_id(type_id))
    except (KeyError, IndexError):
        raise Reject(errno.EINVAL, f"bpf_obj_new: type ID {type_id} is not in the program's BTF") from None
    if not isinstance(t, btflib.Struct):
        raise Reject(errno.EINVAL, "bpf_obj_new type ID argument must be of a struct")
    return t


def root_info(reg: Reg) -> tuple[btflib.Struct, int]:
    """The contained struct and its node offset of the ``bpf_rb_root`` ``reg`` points at."""
    m = reg.obj
    btf = getattr(m, "btf", None)
    vid = int(getattr(m, "btf_value_type_id", 0) or 0)
    if reg.type != RegType.PTR_TO_MAP_VALUE or reg.maybe_null or btf is None or not vid:
        raise Reject(errno.EACCES, "R1 expected pointer to a struct bpf_rb_root in a map value")
    if reg.var_off:
        raise Reject(errno.EINVAL, "R1 doesn't have constant offset. bpf_rb_root has to be at the constant offset")
    spec = btf.spec
    value = spec.type_by_id(vid)
    var: Any = None
    if isinstance(value, btflib.Datasec):
        for vs in value.vars:
            u = btflib.underlying(getattr(vs.type, "type", vs.type))
            if vs.offset == reg.off and isinstance(u, btflib.Struct) and u.name == "bpf_rb_root":
                var = vs.type
    if var is None:
        raise Reject(errno.EINVAL, f"off={reg.off} doesn't point to 'struct bpf_rb_root'")
    for t in spec.types[1:]:
        if isinstance(t, btflib.DeclTag) and t.type is var and t.name.startswith("contains:"):
            _, tname, node = t.name.split(":", 2)
            holder = spec.find(tname, btflib.Struct)
            mem = holder.member(node)
            return holder, mem.bit_offset // 8
    raise Reject(errno.EINVAL, "bpf_rb_root has no __contains() declaring its node type")


def _owning(reg: Reg, regno: int, what: str) -> int:
    if reg.type != RegType.PTR_TO_BTF_ID or not reg.ref_obj_id:
        raise Reject(errno.EINVAL, f"R{regno} {what}: expected an owning reference to an allocated object")
    if reg.maybe_null:
        raise Reject(errno.EACCES, f"R{regno} Possibly NULL pointer passed to {what}")
    return reg.ref_obj_id


def _non_owning(v: Verifier) -> set[int]:
    ids: set[int] | None = getattr(v, "_graph_non_owning", None)
    if ids is None:
        ids = set()
        v._graph_non_owning = ids  # type: ignore[attr-defined]
    return ids


def invalidate_non_owning(v: Verifier, st: State) -> None:
    """``bpf_spin_unlock``: non-owning node pointers (after ``bpf_rbtree_add``, from
    ``bpf_rbtree_first``) stop being pointers (``invalidate_non_owning_refs``)."""
    ids = getattr(v, "_graph_non_owning", None)
    if ids:
        st.map_regs(lambda r: unknown() if r.type == RegType.PTR_TO_BTF_ID and r.id in ids and not r.ref_obj_id else r)


def call_graph_kfunc(v: Verifier, st: State, pc: int, name: str) -> None:
    """Check one of :data:`GRAPH_KFUNCS`; R1-R5 clobbered, R0 typed."""
    from structops.verifier.calls import release_reference
    from structops.verifier.locks import check_root_locked

    regs = st.cur.regs
    r1, r2 = regs[1], regs[2]
    result: Reg = NOT_INIT
    if name == "bpf_obj_new_impl":
        if not r1.is_const:
            raise Reject(errno.EINVAL, "bpf_obj_new type ID argument must be a known constant")
        t = _prog_type(v, r1.umin)
        ref = v.new_id()
        st.refs[ref] = pc
        result = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=t, trusted=True, maybe_null=True, ref_obj_id=ref, id=ref)
    elif name == "bpf_obj_drop_impl":
        if not is_alloc(v, r1) or r1.off:
            raise Reject(errno.EINVAL, "bpf_obj_drop: R1 must point to the start of an allocated object")
        release_reference(st, _owning(r1, 1, "bpf_obj_drop"))
    elif name == "bpf_rbtree_add_impl":
        holder, node_off = root_info(r1)
        check_root_locked(st, r1)
        if not is_alloc(v, r2) or getattr(r2.obj, "name", None) != holder.name:
            raise Reject(errno.EINVAL, f"bpf_rbtree_add: R2 must point into a struct {holder.name}")
        if r2.off != node_off:
            raise Reject(errno.EINVAL, f"arg#1 offset={r2.off}, but expected bpf_rb_node at offset={node_off}")
        if regs[3].type != RegType.PTR_TO_FUNC:
            raise Reject(errno.EACCES, f"R3 type={regs[3].type_str()} expected=func")
        ref = _owning(r2, 2, "bpf_rbtree_add")
        st.refs.pop(ref, None)  # the tree owns the node; the caller's copies become non-owning
        st.map_regs(lambda r: replace(r, ref_obj_id=0) if r.ref_obj_id == ref else r)
        _non_owning(v).add(r2.id)
        result = unknown(0, 0xFFFFFFFF)
    elif name == "bpf_rbtree_first":
        holder, node_off = root_info(r1)
        check_root_locked(st, r1)
        result = Reg(
            RegType.PTR_TO_BTF_ID, 0, 0, off=node_off, obj=holder, trusted=True, maybe_null=True, id=v.new_id()
        )
        _non_owning(v).add(result.id)
    elif name == "bpf_rbtree_remove":
        holder, node_off = root_info(r1)
        check_root_locked(st, r1)
        if not is_alloc(v, r2) or r2.maybe_null or r2.off != node_off or getattr(r2.obj, "name", None) != holder.name:
            raise Reject(errno.EINVAL, "bpf_rbtree_remove: R2 must be a non-NULL node of this tree")
        ref = v.new_id()
        st.refs[ref] = pc
        result = Reg(
            RegType.PTR_TO_BTF_ID, 0, 0, off=node_off, obj=holder, trusted=True, maybe_null=True, ref_obj_id=ref, id=ref
        )
    regs = st.cur.regs  # release_reference rebuilds the register lists
    for r in range(1, 6):
        regs[r] = NOT_INIT
    regs[0] = result


def enter_rbtree_less(v: Verifier, pc: int, st: State, cp: Any = None, stack: Any = None) -> int:
    """``bpf_rbtree_add_impl``: check it and go on after the call; its ``less`` callback is
    queued in a new frame of the state before the call (``push_callback_call``), and its
    exit, the verifier's callback exit, returns to the call (a loop, as ``bpf_loop``)."""
    from structops.verifier.env import MAX_CALL_FRAMES
    from structops.verifier.state import Frame

    regs = st.cur.regs
    fn = regs[3]
    holder, node_off = root_info(regs[1])
    before = st.copy()
    call_graph_kfunc(v, st, pc, "bpf_rbtree_add_impl")
    if len(st.frames) >= MAX_CALL_FRAMES:
        raise Reject(errno.E2BIG, f"the call stack of {len(st.frames) + 1} frames is too deep")
    frameno = len(st.frames)
    node = Reg(RegType.PTR_TO_BTF_ID, 0, 0, off=node_off, obj=holder, trusted=True)
    new = [NOT_INIT] * 11
    new[1], new[2] = node, node
    new[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=frameno)
    before.cb_unroll += 1
    before.cur.callback_depth += 1
    before.frames.append(Frame(new, {}, callsite=-(pc + 2), frameno=frameno))
    stack.append((int(fn.obj), before, cp))
    if cp is not None:
        cp.branches += 1
    st.cur.callback_depth = 0
    return pc + 1
