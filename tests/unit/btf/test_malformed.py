"""Malformed BTF raises BTFError with a clear message: never IndexError, RecursionError or a hang.

Hand-made corruptions of the header and records, then hypothesis fuzzing (mutated
fixture bytes and random bytes, bounded by the "ci" profile).
"""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops import btf
from structops.btf.rawdump import dump_raw


def _blob(types: bytes, strings: bytes = b"\0int\0", *, hdr_len: int = 24, order: str = "<") -> bytes:
    header = struct.pack(f"{order}HBBIIIII", 0xEB9F, 1, 0, hdr_len, 0, len(types), len(types), len(strings))
    return header + b"\0" * (hdr_len - 24) + types + strings


def _rec(name_off: int, kind: int, vlen: int, size_or_type: int, *extra: int, kflag: int = 0) -> bytes:
    info = kflag << 31 | kind << 24 | vlen
    return struct.pack(f"<{3 + len(extra)}I", name_off, info, size_or_type, *extra)


INT = _rec(1, 1, 0, 4, 32 | 1 << 24)  # [1] int, signed 32 bits


def _exercise(spec: btf.Spec) -> None:
    """Touch everything a user could touch: every type, listing, C header."""
    list(dump_raw(spec))
    btf.dump_c(spec)
    for t in spec.types:
        for attr in ("name", "size", "members", "type", "target", "values", "params", "vars"):
            getattr(t, attr, None)


def test_minimal_valid_blob() -> None:
    spec = btf.parse(_blob(INT))
    assert spec.find("int", btf.Int).signed


def test_extended_header_is_honoured() -> None:
    spec = btf.parse(_blob(INT, hdr_len=32))
    assert spec.header.hdr_len == 32 and spec.find("int").name == "int"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated"),
        (_blob(INT)[:20], "truncated"),
        (b"\x00\x00" + _blob(INT)[2:], "magic"),
        (_blob(INT)[:2] + b"\x02" + _blob(INT)[3:], "version"),
        (_blob(INT)[:4] + struct.pack("<I", 8) + _blob(INT)[8:], "hdr_len"),
        (_blob(INT)[:4] + struct.pack("<I", 10_000) + _blob(INT)[8:], "hdr_len"),
        (_blob(INT)[:-3], "truncated"),
        (_blob(INT[:-4]), "truncated"),
        (_blob(_rec(0, 2, 0, 7)), "type id 7"),
        (_blob(_rec(99, 1, 0, 4, 32)), "name offset 99"),
        (_blob(_rec(0, 25, 0, 0)), "unknown kind"),
        (_blob(_rec(1, 4, 0xFFFF, 8)), "truncated"),
        (_blob(INT, b"\0int"), "NUL"),
        (_blob(INT, b"x\0int\0"), "empty string"),
        (_blob(_rec(1, 8, 0, 2) + _rec(1, 8, 0, 1)), "loop"),
        (_blob(_rec(1, 8, 0, 1)), "loop"),
        (_blob(_rec(1, 4, 1, 8, 0, 1, 0)), "loop"),
        (_blob(INT + _rec(0, 3, 0, 0, 3, 1, 2) + _rec(1, 4, 1, 8, 0, 2, 0)), "loop"),
        (_blob(INT + _rec(1, 12, 0, 1)), "FUNC_PROTO"),
        (_blob(_rec(1, 1, 0, 3, 24)), "bad size"),
        (_blob(INT + _rec(1, 4, 1, 4, 0, 1, 64)), "beyond the size"),
    ],
)
def test_malformed_raises_btf_error(data: bytes, message: str) -> None:
    with pytest.raises(btf.BTFError, match=message):
        btf.parse(data)


def test_unvalidated_parse_fails_lazily_with_btf_error() -> None:
    spec = btf.parse(_blob(_rec(0, 2, 0, 7)), validate=False)
    ptr = spec.types[1]
    with pytest.raises(btf.BTFError, match="out of range"):
        _ = ptr.target  # type: ignore[attr-defined]


def test_layout_helpers_stop_on_cycles_built_by_hand() -> None:
    a = btf.Typedef("a", btf.Void())
    b = btf.Typedef("b", a)
    object.__setattr__(a, "type", b)
    with pytest.raises(btf.BTFError):
        btf.underlying(a)
    with pytest.raises(btf.BTFError):
        btf.sizeof(a)
    spec = btf.parse(btf.encode([a]), validate=False)
    with pytest.raises(btf.BTFError, match="loop"):
        btf.parse(spec.raw)


def _mutations(base: bytes) -> st.SearchStrategy[bytes]:
    def apply(edits: list[tuple[int, int]], cut: int) -> bytes:
        data = bytearray(base)
        for pos, value in edits:
            data[pos % len(data)] = value
        return bytes(data[: max(0, len(data) - cut)])

    edit = st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255))
    return st.builds(apply, st.lists(edit, min_size=1, max_size=8), st.sampled_from([0, 0, 0, 1, 4, 13]))


@pytest.fixture(scope="module")
def fixture_blob() -> bytes:
    from pathlib import Path

    return (Path(__file__).resolve().parents[3] / "testdata" / "btf" / "types.bpfel.btf").read_bytes()


def _check(data: bytes) -> None:
    try:
        spec = btf.parse(data)
    except btf.BTFError:
        return
    with contextlib.suppress(btf.BTFError):
        _exercise(spec)


@given(data=st.data())
def test_fuzz_mutated_fixture(fixture_blob: bytes, data: st.DataObject) -> None:
    _check(data.draw(_mutations(fixture_blob)))


@given(payload=st.binary(max_size=200), order=st.sampled_from(["<", ">"]))
def test_fuzz_random_records(payload: bytes, order: str) -> None:
    payload = payload[: len(payload) // 4 * 4]
    _check(_blob(payload, order=order))


@given(data=st.binary(max_size=120))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(data)
