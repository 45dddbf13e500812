"""The on-disk index cache: hits give the same spec, bad entries and unwritable dirs are ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from structops import btf
from structops.btf import _cache, _index
from structops.btf.rawdump import dump_raw


@pytest.fixture(scope="module")
def big_blob() -> bytes:
    """A blob above the caching threshold: many structs with members."""
    i32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    types: list[btf.Type] = [i32]
    for n in range(8000):
        types.append(btf.Struct(f"s{n}", 8, (btf.Member("a", i32, 0), btf.Member("b", i32, 32))))
    blob = btf.encode(types)
    assert len(blob) >= _cache.MIN_CACHED_SIZE
    return blob


def _entries(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "structops").glob("btf-*.idx"))


def test_cache_hit_gives_the_same_types(big_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STRUCTOPS_BTF_CACHE", raising=False)
    first = btf.parse(big_blob)
    assert len(_entries(tmp_path)) == 1
    second = btf.parse(big_blob)
    assert second.find("s7999", btf.Struct).member("b").offset == 4
    assert list(dump_raw(second)) == list(dump_raw(first))
    path = tmp_path / "x.btf"
    path.write_bytes(big_blob)
    via_file = btf.parse_file(path)
    via_file_again = btf.parse_file(path)
    assert len(_entries(tmp_path)) == 2
    assert via_file_again.find("s17").name == via_file.find("s17").name == "s17"


def test_corrupt_cache_entry_is_ignored(big_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STRUCTOPS_BTF_CACHE", raising=False)
    btf.parse(big_blob)
    (entry,) = _entries(tmp_path)
    raw = bytearray(entry.read_bytes())
    raw[-40:] = b"\xff" * 40  # garbage name offsets / type offsets
    entry.write_bytes(bytes(raw[:-4]))  # and a wrong length
    spec = btf.parse(big_blob)
    assert spec.find("s7999", btf.Struct).size == 8


def test_unwritable_cache_dir_is_not_an_error(big_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("STRUCTOPS_BTF_CACHE", raising=False)
    assert btf.parse(big_blob).find("s1").name == "s1"


def test_cache_can_be_disabled(big_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("STRUCTOPS_BTF_CACHE", "0")
    btf.parse(big_blob)
    assert not (tmp_path / "structops").exists()
    assert os.environ["STRUCTOPS_BTF_CACHE"] == "0"


def test_many_lookups_switch_to_the_full_index(big_blob: bytes) -> None:
    spec = btf.parse(big_blob, validate=False)
    for n in range(0, 8000, 250):
        assert spec.find(f"s{n}", btf.Struct).name == f"s{n}"
    assert spec._index is not None  # the index was built after a few scanning look-ups
    assert spec.find_all("a") == []  # member names are not type names
    with pytest.raises(KeyError):
        spec.find("s8000")


@pytest.fixture(scope="module")
def dup_blob() -> bytes:
    """A blob above the caching threshold where every struct also has a same-named typedef."""
    i32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    types: list[btf.Type] = [i32]
    for n in range(7000):
        s = btf.Struct(f"s{n}", 4, (btf.Member("a", i32, 0),))
        types += [s, btf.Typedef(f"s{n}", s)]
    blob = btf.encode(types)
    assert len(blob) >= _cache.MIN_CACHED_SIZE
    return blob


def _answers(spec: btf.Spec) -> list[object]:
    out: list[object] = []
    for name in ("s0", "s17", "s6999", "int", "s7000", "a", ""):
        out.append([spec.type_id(t) for t in spec.find_all(name)])
    out.append(spec.type_id(spec.find("s42", btf.Typedef)))
    out.append(spec.type_id(spec.find("s42", btf.Struct)))
    return out


def test_name_index_is_cached_and_answers_alike(
    dup_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STRUCTOPS_BTF_CACHE", raising=False)
    built = btf.parse(dup_blob)
    assert built._index is None  # opening does not index names
    built.build_name_index()
    (entry,) = _entries(tmp_path)
    loaded = btf.parse(dup_blob)
    assert isinstance(loaded._index, _index.NameIndex)  # straight from the cache entry
    assert loaded._index._keys is not None
    fresh = btf.parse(dup_blob, validate=False)
    for _ in range(20):  # builds its index by scanning look-ups, cache-free
        fresh.find_all("s3")
    assert _answers(loaded) == _answers(built) == _answers(fresh)
    s17 = loaded.find_all("s17")
    assert [type(t).__name__ for t in s17] == ["Struct", "Typedef"]
    assert s17[1].type is s17[0]  # type: ignore[attr-defined]
    assert entry.stat().st_size > 8 * len(loaded)  # offsets, names and the index


def test_damaged_cache_body_is_ignored(dup_blob: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STRUCTOPS_BTF_CACHE", raising=False)
    btf.parse(dup_blob).build_name_index()
    (entry,) = _entries(tmp_path)
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same length, one flipped byte: only the CRC notices
    entry.write_bytes(bytes(raw))
    spec = btf.parse(dup_blob)
    assert spec._index is None  # the damaged entry (it had an index) was not used
    assert [spec.type_id(t) for t in spec.find_all("s9")] == [20, 21]
