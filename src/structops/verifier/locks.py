"""``bpf_spin_lock`` and RCU read sections in the verifier (Linux 6.18 ``process_spin_lock``,
the kfunc RCU rules of ``check_kfunc_call``, ``check_resource_leak``).

A ``struct bpf_spin_lock`` lives in a map value whose BTF declares it (or in an object of
``bpf_obj_new``).  ``bpf_spin_lock(&v->lock)`` needs a non-NULL pointer to it at a constant
offset; while it is held the path may not call helpers (but ``bpf_spin_unlock``), kfuncs
(but the rbtree/list and ``bpf_iter_num_*`` ones), global functions (static subprograms are
fine) and may not leave the main program; only
one lock is held at a time and ``bpf_spin_unlock`` must name the same lock (the same map or
object and the same pointer id: two lookups of one map give two locks); the rbtree kfuncs
need the lock of their root's map value held.  The held lock is
part of the state (:attr:`State.lock`: pointer id and object identity), so states with and
without it never prune each other.

``bpf_rcu_read_lock()`` opens an RCU read section (:attr:`State.rcu`); 6.18 does not nest
them ("nested rcu read lock"), an unlock without a lock is refused, a sleepable kfunc may not
be called inside one, and the main program may not exit inside one.  Socket filters and
tracing programs may not use a map holding a ``bpf_spin_lock`` at all (checked when the map
is referenced, before the walk).
"""

from __future__ import annotations

import errno
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.verifier.env import Reject
from structops.verifier.ops import KF
from structops.verifier.state import Reg, RegType, State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = [
    "check_call_locked",
    "check_exit_lock",
    "check_exit_rcu",
    "check_global_call",
    "check_lock_field",
    "check_map_prog",
    "check_root_locked",
    "has_spin_lock",
    "process_spin_lock",
    "rcu_kfunc",
    "spin_lock_off",
]

SPIN_LOCK, SPIN_UNLOCK = 93, 94
_LOCK_SIZE = 4
#: ``is_bpf_graph_api_kfunc`` + ``is_bpf_iter_num_api_kfunc``: kfuncs callable with a lock held.
_LOCKED_KFUNCS = frozenset(
    {
        "bpf_list_push_front_impl",
        "bpf_list_push_back_impl",
        "bpf_list_pop_front",
        "bpf_list_pop_back",
        "bpf_list_front",
        "bpf_list_back",
        "bpf_rbtree_add_impl",
        "bpf_rbtree_remove",
        "bpf_rbtree_first",
        "bpf_rbtree_root",
        "bpf_rbtree_left",
        "bpf_rbtree_right",
        "bpf_refcount_acquire_impl",
        "bpf_iter_num_new",
        "bpf_iter_num_next",
        "bpf_iter_num_destroy",
    }
)
#: Program types that may not reference a map with a ``bpf_spin_lock``: the socket filter and
#: the tracing types (kprobe, tracepoint, perf_event, raw_tracepoint(_writable)).
_NO_LOCK_TYPES = {1: "socket filter", 2: "tracing", 5: "tracing", 7: "tracing", 17: "tracing", 24: "tracing"}


def _lock_offsets(t: btflib.Type, base: int, depth: int = 0, names: tuple[str, ...] = ("bpf_spin_lock",)) -> list[int]:
    """Offsets of the fields whose struct is one of ``names`` (a bpf_spin_lock by default)."""
    u = btflib.underlying(t)
    if isinstance(u, btflib.Struct) and u.name in names:
        return [base]
    out: list[int] = []
    if isinstance(u, btflib.Struct) and depth < 4:
        for m in u.members:
            if not m.bit_offset % 8:
                out += _lock_offsets(m.type, base + m.bit_offset // 8, depth + 1, names)
    elif isinstance(u, btflib.Datasec):
        for vs in u.vars:
            out += _lock_offsets(getattr(vs.type, "type", vs.type), base + vs.offset, depth + 1, names)
    return out


def _has_graph_root(m: Any) -> bool:
    btf = getattr(m, "btf", None)
    vid = int(getattr(m, "btf_value_type_id", 0) or 0)
    if btf is None or not vid:
        return False
    try:
        return bool(_lock_offsets(btf.spec.type_by_id(vid), 0, names=("bpf_rb_root", "bpf_list_head")))
    except (KeyError, IndexError):
        return False


def has_spin_lock(value_type: btflib.Type) -> bool:
    """Whether a map value type holds exactly one ``bpf_spin_lock`` (a lock field record)."""
    return len(_lock_offsets(value_type, 0)) == 1


def spin_lock_off(m: Any) -> int | None:
    """The offset of the ``bpf_spin_lock`` in map ``m``'s value (its BTF); -1 when the value
    has none; None when the map has no BTF."""
    btf = getattr(m, "btf", None)
    vid = int(getattr(m, "btf_value_type_id", 0) or 0)
    if btf is None or not vid:
        return None
    spec = btf.spec
    hit = _CACHE.get((id(spec), vid))
    if hit is not None and hit[0] is spec:
        return hit[1]
    try:
        offs = _lock_offsets(spec.type_by_id(vid), 0)
    except (KeyError, IndexError):
        offs = []
    off = offs[0] if len(offs) == 1 else -1
    if len(_CACHE) >= 256:
        _CACHE.clear()
    _CACHE[(id(spec), vid)] = (spec, off)  # the spec is kept: its id is not reused meanwhile
    return off


#: (id of a BTF spec, value type id) -> (the spec, its lock offset): every map access asks.
_CACHE: dict[tuple[int, int], tuple[Any, int]] = {}


def check_map_prog(v: Verifier, fd: int) -> None:
    """``check_map_prog_compatibility`` for an ld_imm64 of map ``fd``: socket filters and
    tracing programs cannot use a map holding a ``bpf_spin_lock``, tracing programs one holding
    an rbtree or list root either (EINVAL, no insn named)."""
    ops = v.env.prog_ops
    kind = _NO_LOCK_TYPES.get(ops.prog_type) if ops is not None else None
    if kind is None or v.env.get_map is None:
        return
    try:
        m = v.env.get_map(fd)
    except OSError:
        return  # reported where the walk meets the instruction
    if kind == "tracing" and _has_graph_root(m):
        raise Reject(errno.EINVAL, "tracing progs cannot use bpf_{list_head,rb_root} yet")
    off = spin_lock_off(m)
    if off is not None and off >= 0:
        raise Reject(errno.EINVAL, f"{kind} progs cannot use bpf_spin_lock yet")


def check_lock_field(m: Any, lo: int, hi: int) -> None:
    """``check_map_access``: a load/store touching bytes ``[lo, hi)`` of a map value may not
    overlap its ``bpf_spin_lock``."""
    off = spin_lock_off(m)
    if off is not None and off >= 0 and lo < off + _LOCK_SIZE and off < hi:
        raise Reject(errno.EACCES, "bpf_spin_lock cannot be accessed directly by load/store")


def check_call_locked(v: Verifier, st: State, src: int, imm: int, off: int) -> None:
    """``do_check`` on a call with a lock held: only ``bpf_spin_unlock``, bpf-to-bpf calls and
    the graph / ``bpf_iter_num`` kfuncs."""
    if src == 1:  # BPF_PSEUDO_CALL: a static subprogram
        return
    if src == 0 and imm == SPIN_UNLOCK:
        return
    if src == 2 and off == 0 and v.env.kfunc is not None:
        k = v.env.kfunc(imm, off)
        if k is not None and getattr(k, "name", "") in _LOCKED_KFUNCS:
            return
    raise Reject(errno.EINVAL, "function calls are not allowed while holding a lock")


def check_global_call(st: State) -> None:
    """``check_func_call`` of a global function: never with a lock held."""
    if st.lock is not None:
        raise Reject(
            errno.EINVAL, "global function calls are not allowed while holding a lock,\nuse static function instead"
        )


def _type_error(regno: int, reg: Reg) -> Reject:
    return Reject(errno.EACCES, f"R{regno} type={reg.type_str()} expected=map_value, ptr_")


def process_spin_lock(v: Verifier, st: State, hid: int) -> None:
    """``bpf_spin_lock`` / ``bpf_spin_unlock`` (R1: ``ARG_PTR_TO_SPIN_LOCK``)."""
    from structops.verifier.graph import is_alloc

    reg = st.cur.regs[1]
    if reg.type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, "R1 !read_ok")
    alloc = reg.type == RegType.PTR_TO_BTF_ID and is_alloc(v, reg)
    if reg.maybe_null or not (reg.type == RegType.PTR_TO_MAP_VALUE or alloc):
        raise _type_error(1, reg)
    if reg.vmin != reg.vmax:
        raise Reject(errno.EINVAL, "R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset")
    val = reg.off + reg.vmin
    if alloc:
        offs = _lock_offsets(reg.obj, 0)
        lock_off = offs[0] if len(offs) == 1 else -1
        if lock_off < 0:
            raise Reject(errno.EINVAL, "local 'kptr' has no valid bpf_spin_lock")
    else:
        m = reg.obj
        name = getattr(m, "name", "") or ""
        found = spin_lock_off(m)
        if found is None:
            raise Reject(errno.EINVAL, f"map '{name}' has to have BTF in order to use bpf_spin_lock")
        if found < 0:
            raise Reject(errno.EINVAL, f"map '{name}' has no valid bpf_spin_lock")
        lock_off = found
    if lock_off != val:
        raise Reject(errno.EINVAL, f"off {val} doesn't point to 'struct bpf_spin_lock' that is at {lock_off}")
    ident = (reg.id, id(reg.obj))
    if hid == SPIN_LOCK:
        if st.lock is not None:  # unreachable through do_check (a call with a lock held)
            raise Reject(errno.EINVAL, "Locking two bpf_spin_locks are not allowed")
        st.lock = ident
        return
    if st.lock is None:
        raise Reject(errno.EINVAL, "bpf_spin_unlock without taking a lock")
    if st.lock != ident:
        raise Reject(errno.EINVAL, "bpf_spin_unlock of different lock")
    st.lock = None


def check_root_locked(st: State, root: Reg) -> None:
    """``check_reg_allocation_locked`` for a ``bpf_rb_root`` argument: the held lock is the one
    of the root's map value (same map, same pointer id)."""
    if st.lock != (root.id, id(root.obj)):
        off = spin_lock_off(root.obj)
        raise Reject(errno.EINVAL, f"bpf_spin_lock at off={off} must be held for bpf_rb_root")


def rcu_kfunc(st: State, name: str, flags: int = 0) -> None:
    """The RCU part of ``check_kfunc_call`` (after the arguments): open, close, no nesting, no
    ``KF_SLEEPABLE`` kfunc inside (reachable from a sleepable program only: the others may
    not call one at all)."""
    if st.rcu and flags & KF.SLEEPABLE and name not in ("bpf_rcu_read_lock", "bpf_rcu_read_unlock"):
        raise Reject(errno.EACCES, f"kernel func {name} is sleepable within rcu_read_lock region")
    if name == "bpf_rcu_read_lock":
        if st.rcu:
            raise Reject(errno.EINVAL, f"nested rcu read lock (kernel function {name})")
        st.rcu = True
    elif name == "bpf_rcu_read_unlock":
        if not st.rcu:
            raise Reject(errno.EINVAL, f"unmatched rcu read unlock (kernel function {name})")
        st.rcu = False
        # the section's MEM_RCU pointers become PTR_UNTRUSTED: readable, no helper or kfunc takes them
        st.map_regs(lambda r: replace(r, rcu=False, untrusted=True) if r.rcu else r)


_EXIT = "BPF_EXIT instruction in main prog"


def check_exit_lock(st: State) -> None:
    """``check_resource_leak`` at the main program's exit, before the reference check."""
    if st.lock is not None:
        raise Reject(errno.EINVAL, f"{_EXIT} cannot be used inside bpf_spin_lock-ed region")


def check_exit_rcu(st: State) -> None:
    """``check_resource_leak`` at the main program's exit, after the reference check."""
    if st.rcu:
        raise Reject(errno.EINVAL, f"{_EXIT} cannot be used inside bpf_rcu_read_lock-ed region")
