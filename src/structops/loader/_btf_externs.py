"""Extern fix-ups of an object's BTF so the kernel accepts it (libbpf ``bpf_object__collect_externs``).

clang describes ``__ksym`` / ``__kconfig`` externs with kinds the kernel's BTF checker
refuses (FUNC with ``extern`` linkage, VAR with ``extern`` linkage).  libbpf rewrites
them before BPF_BTF_LOAD, and so does this module:

* ``.ksyms`` DATASEC: entry *i* gets offset ``4*i`` and size 4, the section size ``4*n``;
  a FUNC entry becomes ``global`` (its prototype's unnamed parameters take the name of
  a dummy variable) and the entry points at that dummy ``int`` VAR (``dummy_ksym``,
  appended to the BTF); a VAR entry becomes ``global allocated`` of type ``int``;
* ``.kconfig`` DATASEC: every VAR becomes ``global allocated``;
* an ``int`` (a 32-bit INT) is appended when the object has none.

Appending is done at the end of the type section and the string section, which keeps
every existing type id and string offset valid.
"""

from __future__ import annotations

import struct
from typing import Final

from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import Datasec
from structops.errors import BTFError

__all__ = ["sanitize_externs"]

KSYMS: Final = ".ksyms"
KCONFIG: Final = ".kconfig"
DUMMY_NAME: Final = "dummy_ksym"
_HDR = struct.Struct("<HBBIIIII")
_KIND_INT, _KIND_FUNC_PROTO, _KIND_FUNC, _KIND_VAR, _KIND_DATASEC = 1, 13, 12, 14, 15
_LINKAGE_GLOBAL_FUNC: Final = 1
_VAR_GLOBAL_ALLOCATED: Final = 1
#: Extra bytes after ``struct btf_type`` per kind: (fixed, per vlen item).
_EXTRA: Final = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0),
                 15: (0, 12), 17: (4, 0), 19: (0, 12)}  # fmt: skip


def _records(raw: bytes | bytearray) -> tuple[list[int], int, int, int, int]:
    """Byte position of each type record (index = type id - 1) and the header fields."""
    _m, _v, _f, hdr_len, type_off, type_len, str_off, str_len = _HDR.unpack_from(raw, 0)
    start, end = hdr_len + type_off, hdr_len + type_off + type_len
    pos_list: list[int] = []
    pos = start
    while pos < end:
        if end - pos < 12:
            raise BTFError(f".BTF: truncated type record at byte {pos}")
        info = struct.unpack_from("<I", raw, pos + 4)[0]
        fixed, per = _EXTRA.get(info >> 24 & 31, (0, 0))
        pos_list.append(pos)
        pos += 12 + fixed + per * (info & 0xFFFF)
    return pos_list, hdr_len, type_len, str_off, str_len


def _kind(raw: bytearray, pos: int) -> int:
    return int(struct.unpack_from("<I", raw, pos + 4)[0]) >> 24 & 31


def sanitize_externs(raw: bytes, spec: BTFSpec) -> bytes:
    """Return ``raw`` with ``.ksyms`` / ``.kconfig`` rewritten as libbpf does (see module doc)."""
    sections = {t.name: spec.type_id(t) for t in spec.types if isinstance(t, Datasec) and t.name in (KSYMS, KCONFIG)}
    if not sections:
        return raw
    buf = bytearray(raw)
    pos_of, hdr_len, type_len, str_off, str_len = _records(buf)
    type_off = _HDR.unpack_from(buf, 0)[4]
    if str_off != type_off + type_len:  # strings not right after types: cannot append safely
        raise BTFError(".BTF: string section does not follow the type section")
    ntypes = len(pos_of)
    new_types = bytearray()
    new_strings = bytearray()

    def add_string(text: str) -> int:
        off = str_len + len(new_strings)
        new_strings.extend(text.encode() + b"\0")
        return off

    int_id = 0
    for tid, pos in enumerate(pos_of, start=1):
        if _kind(buf, pos) == _KIND_INT and struct.unpack_from("<I", buf, pos + 12)[0] & 0xFF == 32:
            int_id = tid
            break
    if not int_id:
        ntypes += 1
        int_id = ntypes
        new_types += struct.pack("<IIII", add_string("int"), _KIND_INT << 24, 4, (1 << 24) | 32)

    kcfg = sections.get(KCONFIG)
    if kcfg is not None:
        dpos = pos_of[kcfg - 1]
        for i in range(struct.unpack_from("<I", buf, dpos + 4)[0] & 0xFFFF):
            var_id = struct.unpack_from("<I", buf, dpos + 12 + 12 * i)[0]
            if 0 < var_id <= len(pos_of) and _kind(buf, pos_of[var_id - 1]) == _KIND_VAR:
                struct.pack_into("<I", buf, pos_of[var_id - 1] + 12, _VAR_GLOBAL_ALLOCATED)

    ksyms = sections.get(KSYMS)
    if ksyms is not None:
        dpos = pos_of[ksyms - 1]
        n = struct.unpack_from("<I", buf, dpos + 4)[0] & 0xFFFF
        dummy_id = 0
        dummy_name = 0
        for i in range(n):
            entry = dpos + 12 + 12 * i
            vid = struct.unpack_from("<I", buf, entry)[0]
            if not 0 < vid <= len(pos_of):
                raise BTFError(f".BTF {KSYMS}: entry {i} refers to type {vid}, which does not exist")
            vpos = pos_of[vid - 1]
            kind = _kind(buf, vpos)
            if kind == _KIND_FUNC:
                if not dummy_id:
                    dummy_name = add_string(DUMMY_NAME)
                    ntypes += 1
                    dummy_id = ntypes
                    new_types += struct.pack("<IIII", dummy_name, _KIND_VAR << 24, int_id, _VAR_GLOBAL_ALLOCATED)
                info = struct.unpack_from("<I", buf, vpos + 4)[0]
                struct.pack_into("<I", buf, vpos + 4, (info & ~0xFFFF) | _LINKAGE_GLOBAL_FUNC)
                proto = struct.unpack_from("<I", buf, vpos + 8)[0]
                if 0 < proto <= len(pos_of) and _kind(buf, pos_of[proto - 1]) == _KIND_FUNC_PROTO:
                    ppos = pos_of[proto - 1]
                    for j in range(struct.unpack_from("<I", buf, ppos + 4)[0] & 0xFFFF):
                        name_off, ptype = struct.unpack_from("<II", buf, ppos + 12 + 8 * j)
                        if ptype and not name_off:
                            struct.pack_into("<I", buf, ppos + 12 + 8 * j, dummy_name)
                struct.pack_into("<I", buf, entry, dummy_id)
            elif kind == _KIND_VAR:
                struct.pack_into("<II", buf, vpos + 8, int_id, _VAR_GLOBAL_ALLOCATED)
            else:
                raise BTFError(f".BTF {KSYMS}: entry {i} is neither a FUNC nor a VAR")
            struct.pack_into("<II", buf, entry + 4, 4 * i, 4)
        struct.pack_into("<I", buf, dpos + 8, 4 * n)

    if not new_types:
        return bytes(buf)
    types_end = hdr_len + type_off + type_len
    strings_end = hdr_len + str_off + str_len
    out = buf[:types_end] + new_types + buf[types_end:strings_end] + new_strings
    struct.pack_into(
        "<IIII", out, 8, type_off, type_len + len(new_types), str_off + len(new_types), str_len + len(new_strings)
    )
    return bytes(out)
