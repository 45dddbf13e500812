"""Text listing of BTF types in the layout of ``bpftool btf dump file X`` (format raw).

One line per type, ``[id] KIND 'name' attributes``, then one tab-indented line per
member, enumerator, parameter or section variable, with the same attribute names as
bpftool so that the two outputs can be compared line by line.
"""

from __future__ import annotations

from collections.abc import Iterator

from structops.btf import types as bt
from structops.btf.parse import Spec

__all__ = ["dump_raw", "raw_lines"]

_INT_ENCODING = {
    0: "(none)",
    bt.IntEncoding.SIGNED: "SIGNED",
    bt.IntEncoding.CHAR: "CHAR",
    bt.IntEncoding.BOOL: "BOOL",
}
_FUNC_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def _q(name: str) -> str:
    return f"'{name or '(anon)'}'"


def raw_lines(spec: Spec, t: bt.Type) -> list[str]:
    """Return the bpftool-style lines describing type ``t`` of ``spec``."""
    tid = spec.type_id(t)
    ref = spec.type_id
    name = getattr(t, "name", "")
    head = f"[{tid}] {bt.KIND_NAMES[t.kind]} {_q(name)}"
    if isinstance(t, bt.Int):
        enc = _INT_ENCODING.get(t.encoding, "UNKN")
        return [f"{head} size={t.size} bits_offset={t.offset} nr_bits={t.bits} encoding={enc}"]
    if isinstance(t, bt.Pointer):
        return [f"{head} type_id={ref(t.target)}"]
    if isinstance(t, bt.Typedef | bt.Volatile | bt.Const | bt.Restrict | bt.TypeTag):
        return [f"{head} type_id={ref(t.type)}"]
    if isinstance(t, bt.Array):
        return [f"{head} type_id={ref(t.type)} index_type_id={ref(t.index_type)} nr_elems={t.nelems}"]
    if isinstance(t, bt.Struct | bt.Union):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            line = f"\t{_q(m.name)} type_id={ref(m.type)} bits_offset={m.bit_offset}"
            if m.bitfield_size:
                line += f" bitfield_size={m.bitfield_size}"
            lines.append(line)
        return lines
    if isinstance(t, bt.Enum | bt.Enum64):
        sign = "SIGNED" if t.signed else "UNSIGNED"
        lines = [f"{head} encoding={sign} size={t.size} vlen={len(t.values)}"]
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, bt.Enum64) else ""
        lines += [f"\t{_q(v.name)} val={v.value}{suffix}" for v in t.values]
        return lines
    if isinstance(t, bt.Fwd):
        return [f"{head} fwd_kind={'union' if t.is_union else 'struct'}"]
    if isinstance(t, bt.Func):
        return [f"{head} type_id={ref(t.type)} linkage={_FUNC_LINKAGE[t.linkage]}"]
    if isinstance(t, bt.FuncProto):
        lines = [f"{head} ret_type_id={ref(t.return_type)} vlen={len(t.params) + t.variadic}"]
        lines += [f"\t{_q(p.name)} type_id={ref(p.type)}" for p in t.params]
        if t.variadic:
            lines.append("\t'(anon)' type_id=0")
        return lines
    if isinstance(t, bt.Var):
        return [f"{head} type_id={ref(t.type)}, linkage={_VAR_LINKAGE[t.linkage]}"]
    if isinstance(t, bt.Datasec):
        lines = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for s in t.vars:
            target = f"{bt.KIND_NAMES[s.type.kind]} {_q(getattr(s.type, 'name', ''))}"
            lines.append(f"\ttype_id={ref(s.type)} offset={s.offset} size={s.size} ({target})")
        return lines
    if isinstance(t, bt.Float):
        return [f"{head} size={t.size}"]
    if isinstance(t, bt.DeclTag):
        return [f"{head} type_id={ref(t.type)} component_idx={t.component_idx}"]
    return [head]


def dump_raw(spec: Spec, types: list[bt.Type] | None = None) -> Iterator[str]:
    """Yield the raw listing of ``types`` (default: the spec's own types, split part only)."""
    if types is None:
        types = [spec.type_by_id(i) for i in range(spec.first_id, len(spec))]
    for t in types:
        yield from raw_lines(spec, t)
