"""Resizable global arrays (libbpf ``bpf_map__set_value_size`` on a ``.data.NAME`` map).

sched_ext schedulers declare per-CPU tables with scx's ``RESIZABLE_ARRAY(sec, name)``: a
one-element array alone in section ``.<sec>.<name>``, which the user program grows to
``nr_cpu_ids`` elements before load (``RESIZE_ARRAY``).  :func:`resize_array` does that
on a :class:`~structops.loader.spec.CollectionSpec`: the map's value size becomes
``element size * n``, its initial contents keep their bytes and grow with zeros, and, as
libbpf does when it cannot rewrite the section's BTF, the map is created without a BTF
key/value type.  :func:`resizable_arrays` lists the candidates.
"""

from __future__ import annotations

from structops import btf as btflib
from structops.loader.globals import global_vars
from structops.loader.spec import CollectionSpec

__all__ = ["resizable_arrays", "resize_array", "resize_cpu_arrays"]

_SECTIONS = (".data.", ".bss.", ".rodata.")


def resizable_arrays(spec: CollectionSpec) -> dict[str, tuple[str, int]]:
    """``RESIZABLE_ARRAY`` variables: name -> (map name, element size)."""
    out: dict[str, tuple[str, int]] = {}
    for name, var in global_vars(spec).items():
        m = spec.maps.get(var.map_name)
        if m is None or not m.section.startswith(_SECTIONS) or m.section.split(".", 2)[-1] != name:
            continue
        t = btflib.underlying(var.type)
        if not isinstance(t, btflib.Array) or var.offset != 0:
            continue
        elem = btflib.sizeof(t.type)
        if elem > 0:
            out[name] = (var.map_name, elem)
    return out


def resize_array(spec: CollectionSpec, name: str, nelems: int) -> None:
    """Grow (or shrink) the resizable array ``name`` to ``nelems`` elements before load."""
    found = resizable_arrays(spec).get(name)
    if found is None:
        raise KeyError(
            f"{name!r} is not a resizable array (a lone array in a .data.NAME/.bss.NAME/.rodata.NAME section)"
        )
    if nelems <= 0:
        raise ValueError(f"resizable array {name!r}: {nelems} elements, at least 1 is needed")
    map_name, elem = found
    m = spec.maps[map_name]
    size = elem * nelems
    if m.contents is not None:
        m.contents = (m.contents + bytes(size))[:size]
    m.value_size = size
    m.btf_key_type_id = 0
    m.btf_value_type_id = 0


def resize_cpu_arrays(spec: CollectionSpec, nr_cpus: int) -> list[str]:
    """Grow every per-CPU ``RESIZABLE_ARRAY`` to ``nr_cpus`` (what the scx user programs do
    with ``RESIZE_ARRAY(..., nr_cpu_ids)``); the exit dump buffers (``*_dump``) keep their size."""
    done = []
    for name in resizable_arrays(spec):
        if not name.endswith("_dump"):
            resize_array(spec, name, nr_cpus)
            done.append(name)
    return done
