"""BTF-defined map attributes as libbpf reads them: ``__uint(name, N)`` is a pointer to
an array of N elements; ``map_extra`` may also be ``__ulong(map_extra, V)``, a one-value
enum (ENUM64 for 64-bit values) — how current libbpf headers declare an arena's start
address or a bloom filter's hash count."""

from __future__ import annotations

import pytest

from structops import btf as btflib
from structops.btf.build import Builder
from structops.errors import ELFError
from structops.loader._maps import parse_map_def

U32 = btflib.Int("unsigned int", 4)
INT = btflib.Int("int", 4, btflib.IntEncoding.SIGNED)


def _uint(n: int) -> btflib.Pointer:
    return btflib.Pointer(btflib.Array(INT, INT, n))


def _def(**extra: btflib.Type) -> tuple[btflib.Spec, btflib.Struct]:
    """Encode ``struct { __uint(type, 33); __uint(max_entries, 10); <extra> } arena`` and parse it."""
    fields = {"type": _uint(33), "max_entries": _uint(10), **extra}
    members = tuple(btflib.Member(name, t, 64 * i) for i, (name, t) in enumerate(fields.items()))
    b = Builder()
    b.add(btflib.Var("arena", btflib.Struct("", 8 * len(members), members), btflib.VarLinkage.GLOBAL_ALLOCATED))
    spec = btflib.parse(b.build())
    st = spec.find("arena", btflib.Var).type
    assert isinstance(st, btflib.Struct)
    return spec, st


def test_ulong_map_extra_is_the_enumerator_value() -> None:
    addr = 0x1_0000_0000 << 12
    spec, st = _def(map_extra=btflib.Enum64("", 8, (btflib.EnumValue("__unique_value0", addr),)))
    m = parse_map_def(spec, "arena", st)
    assert (m.type, m.max_entries, m.map_extra) == (33, 10, addr)


def test_uint_map_extra_still_works_and_small_ulong_uses_a_32_bit_enum() -> None:
    spec, st = _def(map_extra=_uint(3))
    assert parse_map_def(spec, "bloom", st).map_extra == 3
    spec, st = _def(map_extra=btflib.Enum("", 4, (btflib.EnumValue("__unique_value1", 5),)))
    assert parse_map_def(spec, "bloom", st).map_extra == 5


def test_ulong_needs_exactly_one_value_and_only_map_extra_takes_it() -> None:
    two = btflib.Enum64("", 8, (btflib.EnumValue("a", 1), btflib.EnumValue("b", 2)))
    spec, st = _def(map_extra=two)
    with pytest.raises(ELFError, match="map 'arena': attr 'map_extra'"):
        parse_map_def(spec, "arena", st)
    spec, st = _def(map_flags=btflib.Enum64("", 8, (btflib.EnumValue("a", 1),)))
    with pytest.raises(ELFError, match="map 'arena': attr 'map_flags': expected PTR"):
        parse_map_def(spec, "arena", st)
