"""``structops link {show|list} [id ID]`` and ``link detach id ID``: bpftool's link verbs.

bpftool 7.1 (libbpf 1.1) prints a struct_ops link as ``177: struct_ops  prog 0  `` and
``{"id":177,"type":"struct_ops","prog_id":0}`` (observed).  Newer bpftool prints the
struct_ops map instead of the program (selftests report C.7); we print both: the JSON
object gets ``"map_id"`` after ``"prog_id"``, the plain line ``map <id>`` after
``prog <id>``.  ``link detach`` is BPF_LINK_DETACH (KD1-KD3) and prints nothing.
Looking up an unknown id fails with ``failed to get link with ID N`` (exit 254 for show,
as bpftool returns -ENOENT there; 1 for detach, as observed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from structops.abi.attrs import LinkDetachAttr
from structops.abi.consts import Cmd, LinkType
from structops.cli._context import CliError, Context, add_group, add_words_verb, parse_id, strerror
from structops.cli._show import Listing, open_error, plain_head, record_head
from structops.errors import BpfError
from structops.introspect import LinkInfo, link_type_name

__all__ = ["link_record", "register"]


def register(groups: Any) -> None:
    """Add the ``link`` command group."""
    verbs = add_group(groups, "link", "inspect and detach links (bpftool link)")
    LISTING.register(verbs, "show links: [id ID]")
    add_words_verb(verbs, "detach", "detach a link: id ID", "LINK", _detach_body)


def link_record(info: LinkInfo) -> dict[str, Any]:
    """The JSON object printed for one link."""
    row = record_head(info.id, info.type, link_type_name(info.type))
    row["prog_id"] = info.prog_id
    if info.type == LinkType.BPF_LINK_TYPE_STRUCT_OPS:
        row["map_id"] = info.map_id
    return row


def _plain(row: dict[str, Any]) -> list[str]:
    line = plain_head(row) + f"prog {row['prog_id']}  "
    if "map_id" in row:
        line += f"map {row['map_id']}  "
    return [line]


#: ``link show`` / ``link list`` (an unknown id exits 254: bpftool returns -ENOENT there).
def _row(ctx: Context, fd: int) -> dict[str, Any]:
    return link_record(ctx.intro.link_info(fd))


LISTING = Listing("link", "LINK", _row, _plain, open_error("failed to get link with ID {id}", 254))
#: ``link detach`` opens the link the same way but exits 1 on an unknown id (observed).
_DETACH = replace(LISTING, open_failed=open_error("failed to get link with ID {id}", 1))


def _detach_body(ctx: Context, words: list[str]) -> int:
    link_id = parse_id(words, "LINK")
    assert link_id is not None
    fd = _DETACH.open(ctx, link_id)
    try:
        ctx.kernel.bpf(Cmd.BPF_LINK_DETACH, LinkDetachAttr(fd))
    except BpfError as exc:
        raise CliError(f"failed to detach link: {strerror(exc)}") from None
    if ctx.json:
        ctx.emit(None)
    return 0
