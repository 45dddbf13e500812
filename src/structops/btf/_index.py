"""Record walk and name index of a BTF type section (kernel Documentation/bpf/btf.rst 2.2).

Opening a vmlinux BTF means decoding ~127k records; this module keeps the per-record
work in as few Python operations as the format allows:

* :func:`walk_records` finds where every record starts.  A record's length depends only
  on its ``info`` word (kind and vlen), and a kernel BTF has a few hundred distinct info
  words, so the loop body is one dict look-up and one append per record.
* :func:`name_offsets` gathers the ``name_off`` word of every record in one C-level call.
* :class:`NameIndex` maps a name offset to the first type that uses it, built with one
  ``dict(zip(...))``.  Names are never decoded for that: a name is resolved to its string
  offsets (a byte search of the string section, or :class:`StringIndex` once many
  look-ups make it worth building), and the offsets to type ids.  That shortcut needs
  every type name to start at a string boundary (:func:`starts_strings`), true of every
  encoder's output; BTF that points a name into the middle of a string falls back to
  :class:`BytesNameIndex`, which decodes every name.  The name-offset index is saved in
  the on-disk cache as three sorted arrays (:meth:`NameIndex.to_arrays`), which reopen
  indexed at the cost of three ``frombytes`` calls.
"""

from __future__ import annotations

import bisect
import contextlib
from array import array
from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import accumulate
from operator import itemgetter
from typing import TypeAlias

from structops.btf._wire import BASE_WORDS, ENTRY_WORDS, MAX_TYPE_ID
from structops.errors import BTFError

__all__ = [
    "BytesNameIndex",
    "NameIndex",
    "StringIndex",
    "Words",
    "name_offsets",
    "search_string",
    "starts_strings",
    "walk_records",
]

#: The type section as native 32-bit words: a ``memoryview`` cast of the blob (native
#: byte order) or a byte-swapped ``array`` (foreign byte order).
Words: TypeAlias = "memoryview | array[int]"


def walk_records(words: Words) -> list[int]:
    """Return the word offset of every record of a type section (one pass, btf.rst 2.2).

    Raises BTFError for an unknown kind, a record running past the section end, or more
    records than the kernel's BTF_MAX_TYPE.  A list, not an ``array``: appending to it
    and gathering through it (:func:`name_offsets`) are the fastest forms in CPython.
    """
    offs: list[int] = []
    n = len(words)
    if n == 0:
        return offs
    infos = memoryview(words)[1:]  # infos[i] is the info word of a record starting at word i
    lengths: dict[int, int] = {}  # info word -> record length in words
    append = offs.append
    i = 0
    while True:
        try:
            while True:
                append(i)
                i += lengths[infos[i]]
        except KeyError:
            info = infos[i]
            kind = info >> 24 & 31
            base = BASE_WORDS[kind]
            if base is None:
                raise BTFError(
                    f"type [{len(offs)}] at byte {4 * i} of the type section has unknown kind {kind}"
                ) from None
            step = lengths[info] = base + ENTRY_WORDS[kind] * (info & 0xFFFF)
            i += step
        except IndexError:
            break
    # The last offset appended is where the walk stopped: the end of the section when
    # every record fitted, otherwise inside or past the end.
    if offs.pop() != n:
        last = len(offs) + (1 if i < n else 0)
        raise BTFError(f"truncated BTF: type [{last}] runs past the end of the type section")
    if len(offs) > MAX_TYPE_ID:
        raise BTFError(f"too many BTF types: {len(offs)} (the kernel allows {MAX_TYPE_ID})")
    return offs


def name_offsets(words: Words, offs: Sequence[int]) -> tuple[int, ...]:
    """Return the ``name_off`` word of every record, in record order (one C-level gather)."""
    if len(offs) > 1:
        got: tuple[int, ...] = itemgetter(*offs)(words)
        return got
    return tuple(words[o] for o in offs)


def starts_strings(name_offs: Collection[int], strtab: bytes, str_base: int) -> bool:
    """True if every offset in ``name_offs`` at or above ``str_base`` starts a string of ``strtab``.

    Offsets below ``str_base`` belong to a base BTF and are not checked here; an offset
    past the end of ``strtab`` gives False.  ``strtab`` must end with a NUL.
    """
    if not strtab:
        return all(o < str_base for o in name_offs)
    before = b"\0" + memoryview(strtab)[:-1]  # before[o] is strtab[o - 1], for o < len(strtab)
    keys = name_offs if str_base == 0 else [o - str_base for o in name_offs if o >= str_base]
    try:
        if len(keys) > 1:
            return not any(itemgetter(*keys)(before))
        return all(before[o] == 0 for o in keys)
    except IndexError:
        return False


def _string_starts(strtab: bytes) -> tuple[list[bytes], Iterable[int]]:
    """Split ``strtab`` into its strings and their local start offsets."""
    parts = strtab.split(b"\0")
    del parts[-1]  # after the final NUL: not a string
    return parts, accumulate(map((1).__add__, map(len, parts)), initial=0)


class StringIndex:
    """Every string of one string section -> its offsets (global), for O(1) name resolution."""

    __slots__ = ("_dups", "_first")

    def __init__(self, strtab: bytes, str_base: int) -> None:
        parts, starts = _string_starts(strtab)
        if str_base:
            starts = map(str_base.__add__, starts)
        self._first: dict[bytes, int] = dict(zip(parts, starts, strict=False))
        self._dups: dict[bytes, list[int]] = {}
        if len(self._first) != len(parts):  # a string stored more than once
            _, starts = _string_starts(strtab)
            for part, start in zip(parts, starts, strict=False):
                self._dups.setdefault(part, []).append(str_base + start)
            self._dups = {k: v for k, v in self._dups.items() if len(v) > 1}

    def offsets(self, key: bytes) -> list[int]:
        """Global offsets at which the string ``key`` starts (empty if it is absent)."""
        many = self._dups.get(key)
        if many is not None:
            return list(many)
        one = self._first.get(key)
        return [] if one is None else [one]


def search_string(strtab: bytes, str_base: int, key: bytes, *, anywhere: bool = False) -> list[int]:
    """Global offsets at which the string ``key`` starts, by a byte search of ``strtab``.

    With ``anywhere``, also offsets inside a longer string whose tail is ``key`` (where a
    name offset may legally point).  ``key`` must not contain a NUL.
    """
    found = []
    if anywhere:
        needle = key + b"\0"
        pos = strtab.find(needle)
        while pos >= 0:
            found.append(str_base + pos)
            pos = strtab.find(needle, pos + 1)
        return found
    if strtab.startswith(key + b"\0"):
        found.append(str_base)
    needle = b"\0" + key + b"\0"
    pos = strtab.find(needle)
    while pos >= 0:
        found.append(str_base + pos + 1)
        pos = strtab.find(needle, pos + 1)
    return found


class NameIndex:
    """Own types by name offset: the first own index using each offset, the others on demand.

    ``table`` is the name offset of every own type (in id order).  Built from it, the
    index is a dict (one ``dict(zip(...))``); loaded from the cache, it is three arrays
    (sorted name offsets, first and last index of each) searched by bisection, which
    costs nothing to build.  The other types sharing a name offset are found by a C-level
    search of ``table`` (``index``) from the first, bounded by the last where known;
    results are memoized.
    """

    __slots__ = ("_first", "_firsts", "_keys", "_last", "_lasts", "_memo", "_table")

    def __init__(self, table: Sequence[int]) -> None:
        n = len(table)
        self._table = table
        self._first: dict[int, int] | None = dict(zip(reversed(table), range(n - 1, -1, -1), strict=True))
        self._last: dict[int, int] | None = None
        self._keys: array[int] | None = None
        self._firsts: array[int] | None = None
        self._lasts: array[int] | None = None
        self._memo: dict[int, tuple[int, ...]] = {}

    @classmethod
    def from_arrays(cls, table: Sequence[int], keys: array[int], firsts: array[int], lasts: array[int]) -> NameIndex:
        """The index as :meth:`to_arrays` gave it (from the on-disk cache)."""
        self = cls.__new__(cls)
        self._table = table
        self._first = self._last = None
        self._keys, self._firsts, self._lasts = keys, firsts, lasts
        self._memo = {}
        return self

    def to_arrays(self) -> tuple[array[int], array[int], array[int]]:
        """Sorted name offsets with the first and last own index of each."""
        if self._keys is not None and self._firsts is not None and self._lasts is not None:
            return self._keys, self._firsts, self._lasts
        self.add_last()
        assert self._first is not None and self._last is not None
        keys = sorted(self._first)
        if len(keys) == 1:
            return array("I", keys), array("I", [self._first[keys[0]]]), array("I", [self._last[keys[0]]])
        pick = itemgetter(*keys)
        return array("I", keys), array("I", pick(self._first)), array("I", pick(self._last))

    @property
    def offsets(self) -> Collection[int]:
        """Every distinct name offset used by an own type."""
        if self._first is not None:
            return self._first.keys()
        assert self._keys is not None
        return self._keys

    def add_last(self) -> None:
        """Also record the last index per offset, which bounds every later search."""
        if self._last is None and self._lasts is None:
            self._last = dict(zip(self._table, range(len(self._table)), strict=True))

    def _slot(self, name_off: int) -> int:
        """Position of ``name_off`` in the sorted key array, or -1."""
        keys = self._keys
        assert keys is not None
        k = bisect.bisect_left(keys, name_off)
        return k if k < len(keys) and keys[k] == name_off else -1

    def first(self, name_off: int) -> int | None:
        """The lowest own index whose name offset is ``name_off``, or None."""
        if self._first is not None:
            return self._first.get(name_off)
        k = self._slot(name_off)
        return None if k < 0 or self._firsts is None else self._firsts[k]

    def _bounds(self, name_off: int) -> tuple[int, int] | None:
        """First own index using ``name_off`` and an end bound for the others."""
        if self._first is not None:
            j = self._first.get(name_off)
            if j is None:
                return None
            return j, len(self._table) if self._last is None else self._last[name_off] + 1
        k = self._slot(name_off)
        if k < 0 or self._firsts is None or self._lasts is None:
            return None
        return self._firsts[k], self._lasts[k] + 1

    def indices(self, name_off: int) -> tuple[int, ...]:
        """Own indices (ascending) of the types whose name offset is ``name_off``."""
        got = self._memo.get(name_off)
        if got is not None:
            return got
        bounds = self._bounds(name_off)
        if bounds is None:
            return ()
        j, end = bounds
        found = [j]
        find = self._table.index
        try:
            while True:
                j = find(name_off, j + 1, end)
                found.append(j)
        except ValueError:
            pass
        got = self._memo[name_off] = tuple(found)
        return got


class BytesNameIndex:
    """Own types by decoded name: the fallback for names that do not start strings.

    ``string`` decodes one name offset; a type whose name offset is out of range (possible
    without validation) is found under no name.
    """

    __slots__ = ("_first", "_last", "_names")

    def __init__(self, table: Sequence[int], strtab: bytes, str_base: int, string: Callable[[int], bytes]) -> None:
        parts, starts = _string_starts(strtab)
        by_off: dict[int, bytes] = dict(zip(map(str_base.__add__, starts), parts, strict=False))
        names: list[bytes | None] = list(map(by_off.get, table))
        for j, v in enumerate(names):
            if v is None:
                with contextlib.suppress(BTFError):  # out of range: matches no name
                    names[j] = string(table[j])
        self._names = names
        ids = range(len(names))
        self._last = dict(zip(names, ids, strict=True))
        self._first = dict(zip(reversed(names), reversed(ids), strict=True))

    def indices(self, key: bytes) -> list[int]:
        """Own indices (ascending) of the types called ``key``."""
        first = self._first.get(key)
        if first is None:
            return []
        names = self._names
        return [j for j in range(first, self._last[key] + 1) if names[j] == key]
