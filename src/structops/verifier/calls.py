"""Calls and exits: helper prototypes, kfuncs, bpf-to-bpf calls, return rules (V14-V16).

Helpers: the program's ``get_func_proto`` (``ProgEnv.helper_proto``, filled by the
program type or struct_ops subsystem through :mod:`structops.verifier.ops`) says whether a
helper is allowed (V16: "program of this type cannot use helper") and gives its
:class:`~structops.verifier.ops.HelperProto`; modelled argument kinds are checked (map
pointer, initialised key/value memory, sized memory, socket pointers), R0 is typed from
the return kind.  Kfunc arguments follow the BTF prototype: a pointer to a struct needs a
non-NULL ``PTR_TO_BTF_ID`` of that struct (or one embedding it at offset 0), scalars need
scalars; ``KF_ACQUIRE`` / ``KF_RELEASE`` / ``KF_RET_NULL`` drive reference tracking.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.verifier import graph, iters, locks, precision, timer
from structops.verifier.env import MAX_CALL_FRAMES, Reject
from structops.verifier.memory import (
    MEM_EXPECTED,
    RDONLY_MEM,
    check_helper_mem,
    constant_key_hits,
    constant_key_slot,
    struct_embeds,
)
from structops.verifier.ops import (
    ARG_ANY,
    ARG_CTX,
    ARG_KEY,
    ARG_MAP,
    ARG_RDMEM,
    ARG_RDMEM_OR_NULL,
    ARG_RDONLY,
    ARG_SIZE,
    ARG_SOCK,
    ARG_SOCK_RELEASE,
    ARG_SZMEM,
    ARG_TCPSK,
    ARG_UVAL,
    ARG_VAL,
    ARG_WRMEM,
    ARG_WRMEM_OR_ZERO,
    KF,
    RET_MAP_VALUE_OR_NULL,
    RET_SOCK_COMMON_OR_NULL,
    RET_SOCK_OR_NULL,
    RET_TASK_BTF,
    RET_U32,
    RET_VOID,
)
from structops.verifier.sockets import SOCK_COMMON, SOCK_COMMON_EXPECTED, check_sock_release_arg
from structops.verifier.state import NOT_INIT, Frame, Reg, RegType, State, unknown
from structops.verifier.trust import check_kfunc_trust

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["call_helper", "call_kfunc", "call_subprog", "check_main_exit", "exit_subprog"]

_MAX_HELPER_MEM = 1 << 29
#: Helpers that may move or resize the packet (``bpf_helper_changes_pkt_data``): every
#: packet pointer is invalid after the call (skb_store_bytes, csum_replace, vlan push/pop,
#: change_proto/tail/head, pull_data, adjust_room, xdp_adjust_head/meta/tail).
_CHANGES_PKT_DATA = frozenset({9, 10, 11, 18, 19, 31, 38, 39, 43, 44, 50, 54, 65})
_PKT = (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_END, RegType.PTR_TO_PACKET_META)


def _check_sock_arg(v: Verifier, st: State, regno: int, want: str) -> None:
    """A non-NULL ``PTR_TO_BTF_ID`` (not untrusted) whose struct embeds ``want`` at offset 0
    (tcp_sockopt): ``ARG_PTR_TO_BTF_ID_SOCK_COMMON`` for ``sock_common``, else
    ``ARG_PTR_TO_BTF_ID``, with the expected types Linux 6.18 lists for each."""
    reg = st.cur.regs[regno]
    expected = SOCK_COMMON_EXPECTED if want == "sock_common" else "ptr_, trusted_ptr_, rcu_ptr_"
    if reg.type != RegType.PTR_TO_BTF_ID or reg.untrusted or reg.maybe_null:
        raise _eacces(f"R{regno} type={reg.type_str()} expected={expected}")
    if reg.off or reg.var_off:
        raise _eacces(f"R{regno} must have zero offset when passed to a helper")
    try:
        target = v.env.spec.find(want, btflib.Struct)
    except KeyError:
        target = None
    if target is None or not struct_embeds(reg.obj, target):
        raise _eacces(f"R{regno} is of type {getattr(reg.obj, 'name', '?')} but {want} is expected")


def _check_sized_mem(
    v: Verifier, st: State, regno: int, write: bool, what: str, nullable: bool = False, zero_ok: bool = False
) -> None:
    """``check_mem_size_reg``: memory of the size in R<regno+1> (a bounded scalar, not 0 unless
    ``zero_ok``: ``ARG_CONST_SIZE_OR_ZERO``); a ``nullable`` pointer may be NULL with size 0."""
    zero_ok = zero_ok or nullable
    reg = st.cur.regs[regno]
    null = nullable and reg.type == RegType.SCALAR and reg.is_const and reg.umin == 0
    if not null and reg.type not in _MEM_ARG_TYPES:  # check_reg_type, at the pointer argument
        raise _eacces(f"R{regno} type={reg.type_str()} expected={MEM_EXPECTED}")
    size = st.cur.regs[regno + 1]
    if size.type != RegType.SCALAR:
        raise _eacces(f"R{regno + 1} type={size.type_str()} expected=scalar")
    if size.smin < 0:
        raise _eacces(f"R{regno + 1} min value is negative, either use unsigned or 'var &= const'")
    if size.umin == 0 and not zero_ok:
        umax = size.umax - (1 << 64) if size.umax >> 63 else size.umax
        raise _eacces(f"R{regno + 1} invalid zero-sized read: u64=[{size.umin},{umax}]")
    if size.umax >= _MAX_HELPER_MEM:
        raise _eacces(f"R{regno + 1} unbounded memory access, use 'var &= const' or 'if (var < const)'")
    if null:  # check_helper_mem_access: only a zero-sized access may be NULL
        if size.umax:
            raise _eacces(f"R{regno} type=scalar expected=fp")
    elif size.umax:
        check_helper_mem(st, regno, size.umax, write=write, what=what)
    precision.mark(v, st, regno + 1)  # check_mem_size_reg relies on the size's range


#: Pointer types a helper's memory argument takes (the non-NULL ones of ``mem_types``).
_MEM_ARG_TYPES = frozenset(
    {
        RegType.PTR_TO_STACK,
        RegType.PTR_TO_PACKET,
        RegType.PTR_TO_PACKET_META,
        RegType.PTR_TO_MAP_VALUE,
        RegType.PTR_TO_MEM,
    }
)


def _eacces(msg: str) -> Reject:
    return Reject(errno.EACCES, msg)


def _need_init(st: State, regno: int) -> Reg:
    reg = st.cur.regs[regno]
    if reg.type == RegType.NOT_INIT:
        raise _eacces(f"R{regno} !read_ok")
    return reg


def _clobber(st: State) -> None:
    regs = st.cur.regs
    for r in range(1, 6):
        regs[r] = NOT_INIT


def call_helper(v: Verifier, st: State, pc: int, hid: int) -> None:
    """``check_helper_call``: availability (V16), modelled argument kinds; R1-R5 clobbered, R0 typed."""
    name = v.env.helper_name(hid)
    if name == "unknown":  # e.g. libbpf's poisoned CO-RE / weak kfunc call, reached
        raise Reject(errno.EINVAL, f"invalid func unknown#{hid}")
    if hid == 94:  # bpf_spin_unlock ends the non-owning node references (verifier/graph.py)
        graph.invalidate_non_owning(v, st)
    proto = v.env.helper_proto(hid) if v.env.helper_proto is not None else None
    if proto is None and v.env.helper_proto is not None:
        raise Reject(errno.EINVAL, f"program of this type cannot use helper {name}#{hid}")
    if proto is not None and proto.gpl_only and not v.env.gpl_compatible:
        raise Reject(errno.EINVAL, "cannot call GPL-restricted function from non-GPL compatible program")
    ret = "int"
    m = None
    released = 0
    if hid in (locks.SPIN_LOCK, locks.SPIN_UNLOCK):  # ARG_PTR_TO_SPIN_LOCK, RET_VOID
        locks.process_spin_lock(v, st, hid)
        ret = RET_VOID
    elif proto is not None and proto.args is not None:
        ret = proto.ret
        for i, kind in enumerate(proto.args):
            regno = i + 1
            reg = _need_init(st, regno)
            if kind == ARG_MAP:
                if reg.type != RegType.CONST_PTR_TO_MAP or reg.maybe_null:
                    raise _eacces(f"R{regno} type={reg.type_str()} expected=map_ptr")
                m = reg.obj
            elif kind in (ARG_KEY, ARG_VAL, ARG_UVAL) and m is not None:
                size = int(getattr(m, "key_size" if kind == ARG_KEY else "value_size", 0)) if m is not None else 0
                if size == 0:  # e.g. a key for a queue/stack map (check_stack_range_initialized)
                    raise _eacces("invalid zero-sized read")
                what = f"{name} arg{regno}"
                check_helper_mem(st, regno, size, write=kind == ARG_UVAL, what=what)
            elif kind in (ARG_SZMEM, ARG_RDONLY, ARG_RDMEM):
                _check_sized_mem(v, st, regno, False, f"{name} arg{regno}")
            elif kind == ARG_RDMEM_OR_NULL:
                _check_sized_mem(v, st, regno, False, f"{name} arg{regno}", nullable=True)
            elif kind in (ARG_WRMEM, ARG_WRMEM_OR_ZERO):
                _check_sized_mem(v, st, regno, True, f"{name} arg{regno}", zero_ok=kind == ARG_WRMEM_OR_ZERO)
            elif kind == ARG_SOCK:
                _check_sock_arg(v, st, regno, "sock_common")
            elif kind == ARG_TCPSK:
                _check_sock_arg(v, st, regno, "tcp_sock")
            elif kind == ARG_SIZE and reg.type != RegType.SCALAR:
                raise _eacces(f"R{regno} type={reg.type_str()} expected=scalar")
            elif kind == ARG_CTX and reg.type != RegType.PTR_TO_CTX:
                raise _eacces(f"R{regno} type={reg.type_str()} expected=ctx")
            elif kind == ARG_SOCK_RELEASE:
                released = check_sock_release_arg(st.cur.regs, regno)
            elif kind == ARG_ANY:
                pass
    if hid == 12 and int(getattr(m, "map_type", 0)) != 3:  # record_func_key: a BPF_MAP_TYPE_PROG_ARRAY
        raise Reject(errno.EINVAL, "expected prog array map for tail call", joined=True)
    if m is not None:
        _check_map_func(m, hid, name)
    if m is not None and proto is not None and proto.args is not None and ARG_KEY in proto.args:
        key_slot = constant_key_slot(st, 2, m)
        if key_slot is not None:  # get_constant_map_key relies on the spilled key's value
            precision.mark(v, st, slots=(key_slot,))
    # issue 12 item 3; get_constant_map_key: never without CAP_BPF (measured: the NULL test
    # of an unprivileged lookup is a real fork)
    nonnull = hid == 1 and m is not None and v.env.bpf_capable and constant_key_hits(st, 2, m)
    if released:
        release_reference(st, released)
    if hid in _CHANGES_PKT_DATA:  # clear_all_pkt_pointers
        st.map_regs(lambda r: unknown() if r.type in _PKT else r)
    _clobber(st)
    inner = getattr(m, "inner_meta", None) if ret == RET_MAP_VALUE_OR_NULL else None
    if inner is not None:
        # map-in-map: the value is the inner map; after the NULL check a map pointer typed
        # by the inner map template (mark_ptr_or_null_reg's inner_map_meta case)
        st.cur.regs[0] = Reg(RegType.CONST_PTR_TO_MAP, 0, 0, obj=inner, maybe_null=True, id=v.new_id())
    elif ret == RET_MAP_VALUE_OR_NULL and nonnull:  # a value with a lock gets an id (its lock's)
        lock_off = locks.spin_lock_off(m)
        lock_id = v.new_id() if lock_off is not None and lock_off >= 0 else 0
        st.cur.regs[0] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m, id=lock_id)
    elif ret == RET_MAP_VALUE_OR_NULL:
        st.cur.regs[0] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m, maybe_null=True, id=v.new_id())
    elif ret in (RET_SOCK_OR_NULL, RET_SOCK_COMMON_OR_NULL):  # acquires a reference (V14)
        ref = v.new_id()
        st.refs[ref] = pc
        sock_kind = SOCK_COMMON if ret == RET_SOCK_COMMON_OR_NULL else None
        st.cur.regs[0] = Reg(RegType.PTR_TO_SOCKET, 0, 0, obj=sock_kind, maybe_null=True, ref_obj_id=ref, id=ref)
    elif ret == RET_U32:
        st.cur.regs[0] = unknown(0, 0xFFFFFFFF)
    elif ret == RET_TASK_BTF:
        task = v.env.spec.find("task_struct", btflib.Struct)
        st.cur.regs[0] = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=task, trusted=True)
    elif ret == RET_VOID:
        st.cur.regs[0] = NOT_INIT
    else:
        st.cur.regs[0] = unknown()


#: ``check_map_func_compatibility``: map type -> the only helpers it may be passed to ...
_MAP_ONLY_FUNCS: dict[int, frozenset[int]] = {
    3: frozenset({12}),  # PROG_ARRAY: tail calls only
    12: frozenset({1}),  # ARRAY_OF_MAPS: lookup only
    13: frozenset({1}),  # HASH_OF_MAPS
    22: frozenset({87, 88, 89}),  # QUEUE: push, pop, peek
    23: frozenset({87, 88, 89}),  # STACK
    30: frozenset({87, 89}),  # BLOOM_FILTER: push, peek
    24: frozenset({107, 108, 194}),  # SK_STORAGE: sk_storage_get/delete (kptr_xchg)
    29: frozenset({156, 157, 194}),  # TASK_STORAGE
    32: frozenset({210, 211, 194}),  # CGRP_STORAGE
}
#: ... and helper -> the only map types it accepts.
_FUNC_ONLY_MAPS: dict[int, frozenset[int]] = {
    87: frozenset({22, 23, 30}),
    88: frozenset({22, 23}),
    89: frozenset({22, 23, 30}),
    195: frozenset({5, 6, 10}),  # lookup_percpu_elem: PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
    107: frozenset({24}),
    108: frozenset({24}),
    156: frozenset({29}),
    157: frozenset({29}),
    210: frozenset({32}),
    211: frozenset({32}),
}


def _check_map_func(m: object, hid: int, name: str) -> None:
    """``check_map_func_compatibility`` (after the argument checks): -EINVAL when the map
    type and the helper do not go together."""
    mtype = int(getattr(m, "map_type", 0))
    only = _MAP_ONLY_FUNCS.get(mtype)
    maps = _FUNC_ONLY_MAPS.get(hid)
    if (only is not None and hid not in only) or (maps is not None and mtype not in maps):
        raise Reject(errno.EINVAL, f"cannot pass map_type {mtype} into func {name}#{hid}")


def call_kfunc(v: Verifier, st: State, pc: int, btf_id: int, off: int) -> None:
    """``check_kfunc_call``: argument types from the kfunc's BTF prototype, R0 from its return."""
    k = v.env.kfunc(btf_id, off) if v.env.kfunc is not None else None
    if k is None:
        raise Reject(errno.EINVAL, f"kernel btf_id {btf_id} is not a function")
    func: btflib.Func = k.func
    name = getattr(k, "name", func.name)
    if name in graph.GRAPH_KFUNCS:  # allocated objects and rbtrees (verifier/graph.py)
        graph.call_graph_kfunc(v, st, pc, name)
        return
    flags = KF(getattr(k, "flags", 0))
    proto = func.type
    released = 0
    if flags & iters.ITER_KINDS:
        iters.check_iter_arg(v, st, pc, k, flags)
    for i, p in enumerate(proto.params):
        regno = i + 1
        if regno > 5:
            raise Reject(errno.EINVAL, f"function {name} has {len(proto.params)} args, more than 5")
        if i == 0 and flags & iters.ITER_KINDS:
            continue
        reg = st.cur.regs[regno]
        pt = btflib.underlying(p.type)
        if isinstance(pt, btflib.Pointer):
            target = btflib.underlying(pt.target)
            if isinstance(target, btflib.Struct) and (p.name or "").endswith("__iter"):
                _check_iter_param(st, regno, i, target)  # e.g. scx_bpf_dsq_move(it__iter, ...)
                continue
            if not isinstance(target, btflib.Struct):
                _need_init(st, regno)
                continue
            if reg.type == RegType.SCALAR and reg.is_const and reg.umin == 0:
                raise _eacces(f"Possibly NULL pointer passed to trusted arg{i}")
            if reg.type != RegType.PTR_TO_BTF_ID:
                if _scalar_struct(target) and reg.type in (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE):
                    # KF_ARG_PTR_TO_MEM: memory of the struct's size
                    check_helper_mem(st, regno, target.size, write=False, what=f"{name} arg#{i}")
                    continue
                what = f"arg#{i} pointer type STRUCT {target.name}"
                raise Reject(errno.EINVAL, f"{what} must point to scalar, or struct with scalar")
            if reg.maybe_null:
                raise _eacces(f"Possibly NULL pointer passed to trusted arg{i}")
            check_kfunc_trust(reg, regno, flags)
            if reg.var_off or (reg.off and flags & KF.RELEASE):
                raise Reject(
                    errno.EINVAL, f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc"
                )
            if reg.off or not struct_embeds(reg.obj, target):
                raise Reject(
                    errno.EINVAL,
                    f"kernel function {name} args#{i} expected pointer to STRUCT {target.name} "
                    f"but R{regno} has a pointer to STRUCT {getattr(reg.obj, 'name', '?')}",
                )
            if flags & KF.RELEASE and not released:
                if not reg.ref_obj_id:
                    raise Reject(errno.EINVAL, f"release kernel function {name} expects refcounted PTR_TO_BTF_ID")
                released = reg.ref_obj_id
        elif reg.type != RegType.SCALAR:
            raise Reject(errno.EINVAL, f"R{regno} is not a scalar")
    locks.rcu_kfunc(st, name, flags)
    if released:
        release_reference(st, released)
    _clobber(st)
    ret = btflib.underlying(proto.return_type)
    regs = st.cur.regs
    if isinstance(ret, btflib.Void):
        regs[0] = NOT_INIT
    elif isinstance(ret, btflib.Pointer) and isinstance(btflib.underlying(ret.target), btflib.Struct):
        acquire = bool(flags & KF.ACQUIRE)
        ref = 0
        if acquire:
            ref = v.new_id()
            st.refs[ref] = pc
        target = btflib.underlying(ret.target)
        null = bool(flags & KF.RET_NULL)
        regs[0] = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=target, trusted=True, maybe_null=null, ref_obj_id=ref, id=ref)
    elif isinstance(ret, btflib.Pointer) and isinstance(btflib.underlying(ret.target), btflib.Int):
        null = bool(flags & KF.RET_NULL)  # e.g. bpf_iter_num_next: rdonly mem of the int's size
        regs[0] = Reg(RegType.PTR_TO_MEM, 0, 0, obj=RDONLY_MEM, maybe_null=null, id=v.new_id() if null else 0)
    elif isinstance(ret, btflib.Int) and not ret.signed and ret.size < 8:
        regs[0] = unknown(0, (1 << (8 * ret.size)) - 1)
    else:
        regs[0] = unknown()


def _check_iter_param(st: State, regno: int, argno: int, it: btflib.Struct) -> None:
    """A ``__iter`` argument of a non-iterator kfunc: an initialised iterator of that type on the stack."""
    reg = st.cur.regs[regno]
    name = (it.name or "").removeprefix("bpf_iter_")
    bad = f"expected an initialized iter_{name} as arg #{argno}"
    if reg.type != RegType.PTR_TO_STACK or reg.var_off or reg.off % 8 or int(reg.obj or 0) >= len(st.frames):
        raise Reject(errno.EINVAL, bad)
    frame = st.frames[int(reg.obj or 0)]
    if iters.valid_iter(frame, reg.off, it, st.refs) is None:
        raise Reject(errno.EINVAL, bad)


def _scalar_struct(t: btflib.Type, depth: int = 0) -> bool:
    """``__btf_type_is_scalar_struct``: a struct of integers, enums and arrays/structs of them."""
    u = btflib.underlying(t)
    if isinstance(u, btflib.Int | btflib.Enum | btflib.Enum64):
        return True
    if isinstance(u, btflib.Array):
        return _scalar_struct(u.type, depth + 1)
    if isinstance(u, btflib.Struct) and depth < 8:
        return all(_scalar_struct(m.type, depth + 1) for m in u.members)
    return False


def release_reference(st: State, ref: int) -> None:
    """``release_reference``: drop ``ref`` and turn every copy into an unknown scalar."""
    st.refs.pop(ref, None)
    st.map_regs(lambda r: unknown() if r.ref_obj_id == ref else r)


def call_subprog(v: Verifier, st: State, pc: int, target: int) -> None:
    """A bpf-to-bpf call: a fresh frame with R1-R5 from the caller (max ``MAX_CALL_FRAMES``)."""
    if len(st.frames) >= MAX_CALL_FRAMES:
        raise Reject(errno.E2BIG, f"the call stack of {len(st.frames) + 1} frames is too deep")
    caller = st.cur
    regs = [NOT_INIT] * 11
    for r in range(1, 6):
        regs[r] = caller.regs[r]
    frameno = len(st.frames)
    regs[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=frameno)
    st.frames.append(Frame(regs, {}, callsite=pc, frameno=frameno))


def exit_subprog(st: State) -> int:
    """Return from a subprogram: R0 to the caller, caller's R1-R5 clobbered; the next pc."""
    callee = st.frames.pop()
    r0 = callee.regs[0]
    if r0.type == RegType.PTR_TO_STACK and int(r0.obj or 0) >= len(st.frames):
        raise Reject(errno.EINVAL, "cannot return stack pointer to the caller frame")
    caller = st.cur
    for r in range(1, 6):
        caller.regs[r] = NOT_INIT
    caller.regs[0] = r0
    return callee.callsite + 1


def check_main_exit(v: Verifier, st: State) -> None:
    """Exit of the main program: reference leaks (V14) then ``check_return_code`` (V15)."""
    r0 = st.cur.regs[0]
    ret = btflib.underlying(v.env.ret)
    ret_struct: btflib.Struct | None = None
    if isinstance(ret, btflib.Pointer):
        pointee = btflib.underlying(ret.target)
        if isinstance(pointee, btflib.Struct):
            ret_struct = pointee
    returned = r0.ref_obj_id if ret_struct is not None and r0.type == RegType.PTR_TO_BTF_ID else 0
    locks.check_exit_lock(st)
    for ref, insn in sorted(st.refs.items()):
        if ref != returned:
            raise Reject(
                errno.EINVAL,
                f"Unreleased reference id={ref} alloc_insn={insn}\n"
                "BPF_EXIT instruction in main prog would lead to reference leak",
            )
    locks.check_exit_rcu(st)
    if isinstance(ret, btflib.Void):
        return
    if r0.type == RegType.NOT_INIT:
        raise _eacces("R0 !read_ok")
    if r0.is_ptr and not v.env.allow_ptr_leaks:
        raise _eacces("R0 leaks addr as return value")
    if ret_struct is None:
        return  # V15: scalar-returning op, any value (even a pointer) with no range check
    if r0.type == RegType.SCALAR:  # check_return_code relies on R0's range
        precision.mark(v, st, 0)
    if r0.type == RegType.PTR_TO_BTF_ID and r0.ref_obj_id:
        if r0.off or r0.var_off:
            raise Reject(errno.EINVAL, f"R0 has non-zero offset {r0.off} at program exit")
        if not struct_embeds(r0.obj, ret_struct) or getattr(r0.obj, "name", None) != ret_struct.name:
            raise Reject(errno.EINVAL, f"At program exit the register R0 is not a known value ({r0.describe()})")
        return
    if r0.is_ptr:
        raise Reject(errno.EINVAL, f"At program exit the register R0 is not a known value ({r0.type_str()})")
    if not (r0.is_const and r0.umin == 0):
        raise timer.invalid_scalar("At program exit the register R0", r0)


__all__ += ["release_reference"]
