"""``structops map {show|list|dump}``: bpftool's map verbs (selftests report C.6).

``show`` prints, per map (bpftool 7.1 layout, observed; continuation lines start with a tab)::

    29: struct_ops  name so_reno  flags 0x0
        key 4B  value 256B  max_entries 1  memlock 5264B
        btf_id 22

and under ``-j`` ``{"id","type","name","flags","bytes_key","bytes_value","max_entries",
"bytes_memlock","frozen","btf_id"}`` (``name`` only when set, ``btf_id`` only when non-zero).
``memlock`` and ``frozen`` come from the map's fdinfo (the bpf() syscall does not report
them): ``/proc/self/fdinfo`` on Linux, the embedded kernel's own fdinfo there, whose
``memlock`` follows Linux 6.18's ``map_mem_usage()`` for every map type it implements.

``dump id ID`` walks the keys (GET_NEXT_KEY) and prints ``key: .. value: ..`` hex rows
(16 bytes a row, split when a key or value is longer than 16 bytes) and
``Found N element(s)``; ``-j`` gives ``[{"key":["0x00",..],"value":[..],"formatted":{..}}]``
where ``formatted`` is the key and value decoded with BTF (the kernel value type of a
struct_ops map, else the map's own BTF); a BTF-typed map's plain dump is that formatted
list as pretty JSON, as in bpftool.
"""

from __future__ import annotations

from typing import Any

from structops import btf as btflib
from structops.cli._btfvalue import decode
from structops.cli._context import CliError, Context, add_group, add_words_verb, parse_id
from structops.cli._show import Listing, open_error, plain_head, record_head
from structops.errors import BpfError
from structops.introspect import MapInfo, map_type_name

__all__ = ["hex_rows", "register"]


def register(groups: Any) -> None:
    """Add the ``map`` command group."""
    verbs = add_group(groups, "map", "inspect maps (bpftool map)")
    LISTING.register(verbs, "show maps: [id ID]")
    add_words_verb(verbs, "dump", "dump the entries of a map: id ID", "MAP", _dump_body)


def map_record(ctx: Context, fd: int, info: MapInfo) -> dict[str, Any]:
    """The JSON object bpftool prints for one map."""
    facts = ctx.fd_facts(fd)
    row = record_head(info.id, info.type, map_type_name(info.type))
    if info.name:
        row["name"] = info.name
    row.update(
        flags=info.map_flags,
        bytes_key=info.key_size,
        bytes_value=info.value_size,
        max_entries=info.max_entries,
        bytes_memlock=int(facts.get("memlock", "0")),
        frozen=int(facts.get("frozen", "0")),
    )
    if info.btf_id:
        row["btf_id"] = info.btf_id
    return row


def _plain(row: dict[str, Any]) -> list[str]:
    head = plain_head(row) + f"flags {row['flags']:#x}"
    lines = [
        head,
        f"\tkey {row['bytes_key']}B  value {row['bytes_value']}B  max_entries {row['max_entries']}  "
        f"memlock {row['bytes_memlock']}B",
    ]
    extra = []
    if "btf_id" in row:
        extra.append(f"btf_id {row['btf_id']}")
    if row["frozen"]:
        extra.append("frozen")
    return [*lines, "\t" + "  ".join(extra)] if extra else lines


#: ``map show`` / ``map list``.
def _row(ctx: Context, fd: int) -> dict[str, Any]:
    return map_record(ctx, fd, ctx.intro.map_info(fd))


LISTING = Listing("map", "MAP", _row, _plain, open_error("get map by id ({id})"))


def hex_rows(data: bytes) -> list[str]:
    """bpftool's hex rows: 16 bytes a row, an extra space after the eighth byte."""
    rows = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        rows.append(left + ("  " + right if right else ""))
    return rows


def _btf_types(ctx: Context, info: MapInfo) -> tuple[btflib.Type | None, btflib.Type | None]:
    """(key type, value type) for a BTF-formatted dump: the kernel value type of a
    struct_ops map, else the map's own BTF key/value types; (None, None) without BTF."""
    try:
        if info.is_struct_ops:
            return None, ctx.intro.struct_ops_value_type(info)[1]
        if info.btf_id and info.fields["btf_value_type_id"]:
            spec = ctx.intro.btf_spec(info.btf_id)
            key_id = int(info.fields["btf_key_type_id"])
            ktype = spec.type_by_id(key_id) if key_id else None
            return ktype, spec.type_by_id(int(info.fields["btf_value_type_id"]))
    except (BpfError, btflib.BTFError, LookupError):
        pass
    return None, None


def _formatted(
    ktype: btflib.Type | None, vtype: btflib.Type, key: bytes, value: bytes, *, plain: bool
) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if ktype is not None:
        doc["key"] = decode(ktype, key, plain=plain)
    doc["value"] = decode(vtype, value, plain=plain)
    return doc


def _dump_body(ctx: Context, words: list[str]) -> int:
    map_id = parse_id(words, "MAP")
    if map_id is None:  # pragma: no cover - nargs="+" prevents it
        raise CliError("expected MAP")
    fd = LISTING.open(ctx, map_id)
    info = ctx.intro.map_info(fd)
    ktype, vtype = _btf_types(ctx, info)
    entries: list[tuple[bytes, bytes]] = []
    key: bytes | None = None
    while True:
        key = ctx.intro.next_key(fd, key, info.key_size)
        if key is None:
            break
        try:
            entries.append((key, ctx.intro.lookup(fd, key, info.value_size)))
        except BpfError as exc:
            if exc.errno != 2:  # deleted meanwhile
                raise
    if ctx.json:
        docs = []
        for k, v in entries:
            doc: dict[str, Any] = {"key": [f"0x{b:02x}" for b in k], "value": [f"0x{b:02x}" for b in v]}
            if vtype is not None:
                doc["formatted"] = _formatted(ktype, vtype, k, v, plain=False)
            docs.append(doc)
        ctx.emit(docs)
        return 0
    if vtype is not None:  # bpftool prints BTF-typed maps as pretty JSON-like text
        ctx.pretty = True
        ctx.emit([_formatted(ktype, vtype, k, v, plain=True) for k, v in entries])
        ctx.pretty = False
        return 0
    split = info.key_size > 16 or info.value_size > 16
    for k, v in entries:
        if split:
            ctx.out.write("key:\n" + "\n".join(hex_rows(k)) + "\nvalue:\n" + "\n".join(hex_rows(v)) + "\n")
        else:
            ctx.out.write(f"key: {' '.join(hex_rows(k))}  value: {' '.join(hex_rows(v))}\n")
    n = len(entries)
    ctx.out.write(f"Found {n} element{'s' if n != 1 else ''}\n")
    return 0
