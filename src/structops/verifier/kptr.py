"""Referenced ``__kptr`` fields of map values and ``bpf_kptr_xchg`` (Linux 6.18 semantics).

A map value member declared ``struct T __kptr *f`` (BTF: PTR -> TYPE_TAG "kptr" -> STRUCT
T) is a referenced kptr field (``btf_parse_kptr``; T is resolved by name in the kernel's
BTF).  The verifier then allows (``check_map_kptr_access``):

- a load of exactly the 8 bytes of the field at a constant offset: a maybe-NULL pointer
  to T.  Struct_ops programs run in an RCU read-side section and T is RCU-protected
  (bpf_cpumask, task_struct, cgroup), so the pointer is usable with KF_RCU kfuncs after a
  NULL check (``MEM_RCU``); it holds no reference.  Narrower or straddling accesses to the
  field's bytes are plain map-value accesses (as measured on Linux 6.18).
- no 8-byte store ("store to referenced kptr disallowed"): the field changes through
  ``bpf_kptr_xchg(&field, new)`` (helper 194), which releases ``new`` (a referenced T or
  NULL) into the map and returns the previous pointer as a new reference (maybe NULL)
  that must be released or stored back.
"""

from __future__ import annotations

import contextlib
import errno
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.verifier.env import Reject
from structops.verifier.state import NOT_INIT, Reg, RegType, State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["KPTR_XCHG", "call_kptr_xchg", "kptr_fields", "map_kptr_access"]

KPTR_XCHG = 194


def _tagged_struct(t: btflib.Type) -> str | None:
    """``T`` when ``t`` is ``struct T __kptr *`` (pointer to a "kptr" type tag), else None."""
    t = btflib.underlying(t) if not isinstance(t, btflib.Pointer) else t
    if not isinstance(t, btflib.Pointer):
        return None
    target = t.target
    tagged = False
    while isinstance(target, btflib.TypeTag | btflib.Const | btflib.Volatile | btflib.Typedef):
        if isinstance(target, btflib.TypeTag) and target.name == "kptr":
            tagged = True
        target = target.type
    if tagged and isinstance(target, btflib.Struct | btflib.Fwd) and target.name:
        return str(target.name)
    return None


def _walk(t: btflib.Type, base: int, out: dict[int, str], depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(t, btflib.Datasec):
        for vs in t.vars:
            v = vs.type
            if isinstance(v, btflib.Var):
                _walk(v.type, base + vs.offset, out, depth + 1)
        return
    name = _tagged_struct(t)
    if name is not None:
        out[base] = name
        return
    u = btflib.underlying(t)
    if isinstance(u, btflib.Struct):
        for m in u.members:
            if not m.bitfield_size:
                _walk(m.type, base + m.bit_offset // 8, out, depth + 1)
    elif isinstance(u, btflib.Array) and 0 < u.nelems <= 64:
        size = btflib.sizeof(u.type)
        for i in range(u.nelems):
            _walk(u.type, base + i * size, out, depth + 1)


def kptr_fields(m: Any) -> dict[int, str]:
    """Offset -> kernel struct name of every referenced kptr field of map ``m``'s value."""
    cached = getattr(m, "_kptr_fields", None)
    if cached is not None:
        return dict(cached)
    out: dict[int, str] = {}
    btf = getattr(m, "btf", None)
    vid = int(getattr(m, "btf_value_type_id", 0) or 0)
    if btf is not None and vid:
        try:
            _walk(btf.spec.type_by_id(vid), 0, out)
        except (KeyError, IndexError, AttributeError):
            out = {}
    with contextlib.suppress(AttributeError):
        m._kptr_fields = out
    return dict(out)


def _kernel_struct(v: Verifier, name: str, m: Any = None) -> btflib.Struct:
    """The kptr's pointee: a kernel struct, else (a kptr to an object of ``bpf_obj_new``) the
    struct of that name in the map's own BTF."""
    try:
        return v.env.spec.find(name, btflib.Struct)
    except KeyError:
        pass
    btf = getattr(m, "btf", None)
    if btf is not None:
        try:
            local: btflib.Struct = btf.spec.find(name, btflib.Struct)
            return local
        except KeyError:
            pass
    raise Reject(errno.EINVAL, f"kptr type struct {name} is neither a kernel type nor in the map's BTF")


def map_kptr_access(v: Verifier, m: Any, reg: Reg, lo: int, size: int, *, write: bool) -> Reg | None:
    """``check_map_kptr_access``: None when the access is not a kptr access, else the loaded
    register (a load) or a Reject (a store).

    Measured on Linux 6.18 (syscall programs, an ARRAY value ``{u64; struct bpf_cpumask __kptr
    *}``): only an 8-byte access at the field's exact offset is a kptr access; narrower or
    straddling reads and writes of the field's bytes are accepted as plain map-value accesses.
    """
    fields = kptr_fields(m)
    if not fields or reg.var_off or size != 8 or lo not in fields:
        return None
    if write:
        raise Reject(errno.EACCES, "store to referenced kptr disallowed")
    t = _kernel_struct(v, fields[lo], m)
    return Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=t, trusted=True, maybe_null=True, id=v.new_id())


def call_kptr_xchg(v: Verifier, st: State, pc: int) -> int:
    """``bpf_kptr_xchg(dst, ptr)``: R1 the kptr field, R2 a referenced pointer of its type or
    NULL (released), R0 the old pointer as a new maybe-NULL reference."""
    from structops.verifier.calls import release_reference

    if v.env.helper_proto is not None and v.env.helper_proto(KPTR_XCHG) is None:
        raise Reject(errno.EINVAL, f"program of this type cannot use helper bpf_kptr_xchg#{KPTR_XCHG}")
    regs = st.cur.regs
    r1, r2 = regs[1], regs[2]
    if r1.type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, "R1 !read_ok")
    if r2.type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, "R2 !read_ok")
    if r1.type != RegType.PTR_TO_MAP_VALUE or r1.maybe_null:
        raise Reject(errno.EACCES, f"R1 type={r1.type_str()} expected=map_value")
    if r1.var_off:
        raise Reject(errno.EINVAL, "R1 doesn't have constant offset. kptr has to be at the constant offset")
    fields = kptr_fields(r1.obj)
    off = r1.off
    if off not in fields:
        raise Reject(errno.EINVAL, f"off={off} doesn't point to kptr")
    t = _kernel_struct(v, fields[off], r1.obj)
    released = 0
    if r2.type == RegType.SCALAR:
        if not (r2.is_const and r2.umin == 0):
            raise Reject(errno.EACCES, f"R2 type=scalar expected=ptr_{t.name}, null")
    elif r2.type == RegType.PTR_TO_BTF_ID:
        if getattr(r2.obj, "name", None) != t.name:
            raise Reject(
                errno.EINVAL,
                f"R2 is of type {getattr(r2.obj, 'name', '?')} but {t.name} is expected",
            )
        if r2.off or r2.var_off:
            raise Reject(errno.EINVAL, "R2 must have zero offset when passed to release func")
        if not r2.ref_obj_id:
            raise Reject(errno.EINVAL, "R2 must be referenced when passed to release function")
        released = r2.ref_obj_id
    else:
        raise Reject(errno.EACCES, f"R2 type={r2.type_str()} expected=ptr_{t.name}, null")
    if released:
        release_reference(st, released)
    regs = st.cur.regs  # release_reference rebuilds the register lists
    for r in range(1, 6):
        regs[r] = NOT_INIT
    ref = v.new_id()
    st.refs[ref] = pc
    regs[0] = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=t, trusted=True, maybe_null=True, ref_obj_id=ref, id=ref)
    return pc + 1
