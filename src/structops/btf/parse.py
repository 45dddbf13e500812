"""Decoding raw BTF into a :class:`Spec` (kernel Documentation/bpf/btf.rst sections 2-3).

Opening a blob costs one pass over the type section, read as native 32-bit words (a
``memoryview`` cast of the blob, no copy), that records where each type starts
(:func:`structops.btf._index.walk_records`; or that offset table comes from the on-disk
cache, see :mod:`structops.btf._cache`).  :class:`~structops.btf.types.Type` objects are
then built on demand, shallowly: a type's references are decoded when first touched.
Names are looked up without decoding the string table, by searching the name's bytes,
until enough look-ups make the name index (:class:`structops.btf._index.NameIndex`)
worth building.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar, overload

from structops.btf import _cache
from structops.btf import types as bt
from structops.btf._decode import decode, fill
from structops.btf._index import (
    BytesNameIndex,
    NameIndex,
    StringIndex,
    Words,
    name_offsets,
    search_string,
    starts_strings,
    walk_records,
)
from structops.btf._validate import validate_types
from structops.btf._wire import (
    BASE_WORDS,
    ENTRY_WORDS,
    NATIVE_ORDER,
    ByteOrder,
    Header,
    parse_header,
)
from structops.errors import BTFError

__all__ = ["Spec", "parse", "parse_file"]

T = TypeVar("T", bound=bt.Type)

VOID = bt.Void()
#: After this many look-ups by scanning, the name index is built; after twice as many,
#: the string index too (name -> string offsets without searching the string section).
_INDEX_AFTER = 16
#: A look-up by scanning searches the type records once per place the name's bytes end a
#: string; a name found in more places than this builds the name index instead.
_SCAN_LIMIT = 8


class _TypeView(Sequence[bt.Type]):
    """All types of a :class:`Spec` by id (base types included), decoded on access."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec

    def __len__(self) -> int:
        return len(self._spec)

    @overload
    def __getitem__(self, index: int) -> bt.Type: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bt.Type]: ...
    def __getitem__(self, index: int | slice) -> bt.Type | Sequence[bt.Type]:
        if isinstance(index, slice):
            return [self._spec.type_by_id(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"type id {index} out of range")
        return self._spec.type_by_id(index)

    def __iter__(self) -> Iterator[bt.Type]:
        get = self._spec.type_by_id
        for i in range(len(self)):
            yield get(i)


class Spec:
    """A parsed BTF blob: the types by id, names, strings (btf.rst section 2).

    For split BTF (a kernel module's BTF on top of vmlinux) ``split_base`` is the base,
    ids continue after the base's last id (``first_id``) and string offsets continue after
    the base's string section; ``types`` and look-ups cover base and split types alike.
    """

    def __init__(
        self,
        raw: bytes,
        header: Header,
        words: Words,
        offs: Sequence[int],
        strtab: bytes,
        base: Spec | None,
    ) -> None:
        self.raw = raw
        self.header = header
        self.byte_order: ByteOrder = header.byte_order
        self.split_base = base
        self.first_id = len(base) if base is not None else 1
        self._words = words
        self._offs = offs
        self._n = len(offs)
        self._objs: list[bt.Type | None] = [None] * self._n
        self._strtab = strtab
        self._str_base: int = base._str_total if base is not None else 0
        self._str_total: int = self._str_base + len(strtab)
        self._lookups = 0
        self._name_offs: Sequence[int] | None = None
        self._index: NameIndex | BytesNameIndex | None = None
        #: (cache key, words, fingerprint, validated) when the index may be cached.
        self._cache_slot: tuple[str, int, bytes, bool] | None = None
        self._strindex: StringIndex | None = None

    # -- ids ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.first_id + self._n

    def __repr__(self) -> str:
        split = f" split on {len(self.split_base)} base ids" if self.split_base is not None else ""
        return f"<btf.Spec {len(self)} ids{split}>"

    @property
    def types(self) -> Sequence[bt.Type]:
        """Every type by id: ``types[0]`` is Void, base types come first for split BTF."""
        return _TypeView(self)

    def type_by_id(self, type_id: int) -> bt.Type:
        """Return the type with id ``type_id``; BTFError if there is none."""
        j = type_id - self.first_id
        if j >= 0:
            if j >= self._n:
                raise BTFError(f"type id {type_id} out of range (last id is {len(self) - 1})")
            obj = self._objs[j]
            if obj is None:
                obj = self._decode(j)
            return obj
        if type_id == 0:
            return VOID
        if self.split_base is None or type_id < 0:
            raise BTFError(f"type id {type_id} out of range")
        return self.split_base.type_by_id(type_id)

    def type_id(self, t: bt.Type) -> int:
        """Return the id of ``t`` in this spec (or its base); KeyError for a foreign type."""
        if isinstance(t, bt.Void):
            return 0
        tid = t.__dict__.get("_id")
        if tid is not None and 0 < tid < len(self) and self.type_by_id(tid) is t:
            return int(tid)
        raise KeyError(f"{t!r} is not a type of this BTF")

    def kind_of(self, type_id: int) -> int:
        """Return the BTF kind number of ``type_id`` without decoding the type."""
        j = type_id - self.first_id
        if 0 <= j < self._n:
            return self._words[self._offs[j] + 1] >> 24 & 31
        if type_id == 0:
            return 0
        if self.split_base is not None and 0 < type_id < self.first_id:
            return self.split_base.kind_of(type_id)
        raise BTFError(f"type id {type_id} out of range")

    # -- strings -----------------------------------------------------------------------
    def string(self, offset: int) -> str:
        """Return the NUL-terminated string at ``offset`` of the string section."""
        o = offset - self._str_base
        if o < 0:
            assert self.split_base is not None
            return self.split_base.string(offset)
        tab = self._strtab
        end = tab.find(b"\0", o)
        if o >= len(tab) or end < 0:
            raise BTFError(f"string offset {offset} out of range (string section is {self._str_total} bytes)")
        return tab[o:end].decode("utf-8", "surrogateescape")

    def _string_offsets(self, key: bytes) -> list[int]:
        """All offsets (global) where the string ``key`` starts in this spec's own section."""
        if self._strindex is not None:
            return self._strindex.offsets(key)
        return search_string(self._strtab, self._str_base, key)

    def _is_string_start(self, offset: int) -> bool:
        """True if ``offset`` (global) is where a string of this spec or its base starts."""
        o = offset - self._str_base
        if o < 0:
            return self.split_base is not None and self.split_base._is_string_start(offset)
        return o < len(self._strtab) and (o == 0 or self._strtab[o - 1] == 0)

    # -- names -------------------------------------------------------------------------
    def name_of(self, type_id: int) -> str:
        """Return the name of ``type_id`` ('' for anonymous) without decoding the type."""
        j = type_id - self.first_id
        if 0 <= j < self._n:
            return self.string(self._words[self._offs[j]])
        if type_id == 0:
            return ""
        if self.split_base is not None and 0 < type_id < self.first_id:
            return self.split_base.name_of(type_id)
        raise BTFError(f"type id {type_id} out of range")

    def name_offsets(self) -> array[int]:
        """The name offset of every own type, in id order."""
        table = self._name_table()
        return table if isinstance(table, array) else array("I", table)

    def _name_table(self) -> Sequence[int]:
        """The name offset of every own type, in id order (gathered once)."""
        if self._name_offs is None:
            self._name_offs = name_offsets(self._words, self._offs)
        return self._name_offs

    def _own_ids_named(self, key: bytes) -> Iterator[int]:
        """Ids of own types whose name is ``key``, ascending (lazily: find stops early)."""
        self._lookups += 1
        index = self._index
        if index is None and self._lookups > _INDEX_AFTER:
            self.build_name_index()
            index = self._index
        if index is None:
            scanned = self._scan_ids_named(key)
            if scanned is not None:
                yield from scanned
                return
            self.build_name_index()
            index = self._index
            assert index is not None
        fid = self.first_id
        if isinstance(index, BytesNameIndex):
            yield from (fid + j for j in index.indices(key))
            return
        if self._lookups > 2 * _INDEX_AFTER:
            self._build_string_index()
            index.add_last()
        offsets = self._all_string_offsets(key)
        if len(offsets) == 1:  # the usual case: the first id needs no search of the table
            first = index.first(offsets[0])
            if first is not None:
                yield fid + first
                yield from (fid + j for j in index.indices(offsets[0])[1:])
            return
        found: list[int] = []
        for off in offsets:
            found += index.indices(off)
        yield from (fid + j for j in sorted(found))

    def _build_string_index(self) -> None:
        """Index this spec's strings (and its base's), replacing searches of the section."""
        if self._strindex is None:
            self._strindex = StringIndex(self._strtab, self._str_base)
        if self.split_base is not None:
            self.split_base._build_string_index()

    def _scan_ids_named(self, key: bytes) -> list[int] | None:
        """Ids of own types named ``key`` by byte searches, without an index.

        Every place the name's bytes end a string is a possible name offset (names may
        point inside a longer string); None when there are more than ``_SCAN_LIMIT``.
        """
        ids: list[int] = []
        offsets = self._all_string_candidates(key)
        if len(offsets) > _SCAN_LIMIT:
            return None
        if not offsets:
            return ids
        if isinstance(self._name_offs, array):  # from the cache: a byte search of one array
            table = self._name_offs.tobytes()
            for soff in offsets:
                pattern = struct.pack("=I", soff)
                pos = table.find(pattern)
                while pos >= 0:
                    if pos % 4 == 0:
                        ids.append(self.first_id + pos // 4)
                    pos = table.find(pattern, pos + 1)
            ids.sort()
            return ids
        section = self.raw[self.header.type_start : self.header.type_start + self.header.type_len]
        fmt = "<I" if self.byte_order == "little" else ">I"
        offs = self._offs
        for soff in offsets:
            pattern = struct.pack(fmt, soff)
            pos = section.find(pattern)
            while pos >= 0:
                if pos % 4 == 0:
                    word = pos // 4
                    j = bisect.bisect_left(offs, word)
                    if j < self._n and offs[j] == word:
                        ids.append(self.first_id + j)
                pos = section.find(pattern, pos + 1)
        ids.sort()
        return ids

    def _all_string_offsets(self, key: bytes) -> list[int]:
        """Global offsets where the string ``key`` starts, in this spec and its bases."""
        found = self._string_offsets(key)
        if self.split_base is not None:
            found += self.split_base._all_string_offsets(key)
        return found

    def _all_string_candidates(self, key: bytes) -> list[int]:
        """Global offsets of ``key`` + NUL anywhere in this spec's and its bases' strings."""
        found = search_string(self._strtab, self._str_base, key, anywhere=True)
        if self.split_base is not None:
            found += self.split_base._all_string_candidates(key)
        return found

    def build_name_index(self) -> None:
        """Build the name index now (done automatically after a few look-ups).

        The index maps each name offset to the types using it; a name is resolved to its
        string offsets when looked up.  BTF whose type names do not all start a string
        (legal, but no encoder does it) gets an index of decoded names instead.
        """
        if self._index is not None:
            return
        table = self._name_table()
        index = NameIndex(table)
        regular = starts_strings(index.offsets, self._strtab, self._str_base)
        if regular and self.split_base is not None:
            base_starts = self.split_base._is_string_start
            regular = all(base_starts(o) for o in index.offsets if o < self._str_base)
        if regular:
            self._index = index
            if self._cache_slot is not None:  # persist it: the next open starts indexed
                key, nwords, check, validated = self._cache_slot
                table = self.name_offsets()
                _cache.store(key, nwords, check, array("I", self._offs), table, validated, index.to_arrays())
        else:
            self._index = BytesNameIndex(
                table, self._strtab, self._str_base, lambda o: self.string(o).encode("utf-8", "surrogateescape")
            )

    def find_all(self, name: str) -> list[bt.Type]:
        """Return every type called ``name`` (base types first), possibly empty."""
        key = name.encode("utf-8", "surrogateescape")
        ids = list(self._own_ids_named(key)) if b"\0" not in key else []
        found = self.split_base.find_all(name) if self.split_base is not None else []
        return found + [self.type_by_id(i) for i in ids]

    def find(self, name: str, kind: type[T] | None = None) -> T:
        """Return the first type called ``name`` (of class ``kind`` if given); KeyError if absent."""
        if self.split_base is not None:
            try:
                return self.split_base.find(name, kind)
            except KeyError:
                pass
        key = name.encode("utf-8", "surrogateescape")
        want = kind.kind if kind is not None and kind is not bt.Type else None
        for i in self._own_ids_named(key) if b"\0" not in key else ():
            if want is None or self.kind_of(i) == want:
                t = self.type_by_id(i)
                if kind is None or isinstance(t, kind):
                    return t  # type: ignore[return-value]
        what = f"{kind.__name__} " if kind is not None else ""
        raise KeyError(f"no BTF type {what}{name!r}")

    # -- decoding (structops.btf._decode) ----------------------------------------------
    def _decode(self, j: int) -> bt.Type:
        """Build the shallow object for own index ``j``; references stay lazy."""
        return decode(self, j)

    def _fill(self, obj: object, o: int) -> None:
        """Decode the references of ``obj`` (whose record is at word ``o``); see types._Lazy."""
        fill(self, obj, o)


def parse(data: bytes, base: Spec | None = None, *, validate: bool = True) -> Spec:
    """Parse raw BTF (an ELF ``.BTF`` section or a ``/sys/kernel/btf/*`` file).

    ``base`` is the vmlinux spec for split (module) BTF.  With ``validate`` (the default)
    every record is checked up front (ids and string offsets in range, sizes, linkage,
    no reference loops, as the kernel's btf_check_all_types does) so that later accesses
    cannot fail; without it, bad references raise BTFError when touched.
    """
    return _parse(bytes(data), base, validate, None)


def parse_file(path: str | Path, base: Spec | None = None, *, validate: bool = True) -> Spec:
    """Read and :func:`parse` the raw BTF file at ``path`` (BTFError if it cannot be read).

    The on-disk index cache is keyed by the file's identity rather than a hash of its
    bytes, which makes reopening a large file cheap.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BTFError(f"cannot read BTF file {path}: {exc.strerror or exc}") from exc
    key = None
    if _caching(data):
        key = _cache.file_key(Path(path), _base_key(base))
    return _parse(data, base, validate, key)


def _caching(data: bytes) -> bool:
    """True if the index of ``data`` goes through the on-disk cache (large blob, cache on)."""
    return len(data) >= _cache.MIN_CACHED_SIZE and _cache.cache_dir() is not None


def _base_key(base: Spec | None) -> str:
    if base is None:
        return ""
    key = base.__dict__.get("_cache_key")
    return str(key) if key else _cache.blob_key(base.raw)


def _parse(data: bytes, base: Spec | None, validate: bool, key: str | None) -> Spec:
    hdr = parse_header(data)
    strtab = data[hdr.str_start : hdr.str_start + hdr.str_len]
    if base is None and strtab and strtab[0] != 0:
        raise BTFError("bad BTF string section: it must start with an empty string")
    if strtab and strtab[-1] != 0:
        raise BTFError("bad BTF string section: the last string is not NUL-terminated")
    section = memoryview(data)[hdr.type_start : hdr.type_start + hdr.type_len]
    words: Words
    if hdr.byte_order == NATIVE_ORDER:
        words = section.cast("I")
    else:
        words = array("I", section.tobytes())
        words.byteswap()
    cached = None
    check = b""
    if not _caching(data):
        key = None
    else:
        key = key or _cache.blob_key(data, _base_key(base))
        check = _cache.fingerprint(data)
        cached = _cache.load(key, len(words), check)
        if cached is not None and not _plausible(words, cached.offs):
            cached = None
    offs: Sequence[int]
    name_offs: Sequence[int] | None
    if cached is not None:
        offs, name_offs, validated = cached.offs, cached.names, cached.validated
    else:
        offs, name_offs, validated = walk_records(words), None, False
    spec = Spec(data, hdr, words, offs, strtab, base)
    spec._name_offs = name_offs
    if cached is not None and cached.name_index is not None:
        spec._index = NameIndex.from_arrays(cached.names, *cached.name_index)
    if key:
        spec.__dict__["_cache_key"] = key
    if validate and not validated:
        validate_types(spec)
    validated = validated or validate
    if key:
        spec._cache_slot = (key, len(words), check, validated)
        if cached is None or validated != cached.validated:
            _cache.store(key, len(words), check, array("I", offs), spec.name_offsets(), validated, _index_arrays(spec))
    return spec


def _index_arrays(spec: Spec) -> tuple[array[int], array[int], array[int]] | None:
    """The spec's name index as cache arrays, if it has a name-offset index."""
    return spec._index.to_arrays() if isinstance(spec._index, NameIndex) else None


def _plausible(words: Words, offs: Sequence[int]) -> bool:
    """Cheap consistency check of a cached offset table against the type section."""
    if not offs:
        return len(words) == 0
    last = offs[-1]
    if offs[0] != 0 or last + 2 >= len(words) + 2:
        return False
    info = words[last + 1]
    base = BASE_WORDS[info >> 24 & 31]
    return base is not None and last + base + ENTRY_WORDS[info >> 24 & 31] * (info & 0xFFFF) == len(words)
