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

import argparse
from typing import Any, TextIO

from structops.cli._context import CliError, Context, add_output_options, parse_id, strerror
from structops.errors import BpfError
from structops.introspect import LinkInfo, link_type_name
from structops.kernel.attrs import LinkDetachAttr
from structops.uapi import Cmd, LinkType

__all__ = ["link_record", "register"]


def register(groups: Any) -> None:
    """Add the ``link`` command group."""
    parser = groups.add_parser("link", help="inspect and detach links (bpftool link)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for verb in ("show", "list"):
        p = verbs.add_parser(verb, help="show links: [id ID]")
        p.add_argument("words", nargs="*", metavar="LINK")
        add_output_options(p)
        p.set_defaults(func=_show)
    p = verbs.add_parser("detach", help="detach a link: id ID")
    p.add_argument("words", nargs="+", metavar="LINK")
    add_output_options(p)
    p.set_defaults(func=_detach)


def link_record(info: LinkInfo) -> dict[str, Any]:
    """The JSON object printed for one link."""
    tname = link_type_name(info.type)
    row: dict[str, Any] = {"id": info.id, "type": tname if tname is not None else info.type}
    row["prog_id"] = info.prog_id
    if info.type == LinkType.BPF_LINK_TYPE_STRUCT_OPS:
        row["map_id"] = info.map_id
    return row


def _plain(row: dict[str, Any]) -> str:
    tname = row["type"] if isinstance(row["type"], str) else f"type {row['type']}"
    line = f"{row['id']}: {tname}  prog {row['prog_id']}  "
    if "map_id" in row:
        line += f"map {row['map_id']}  "
    return line + "\n"


def _open(ctx: Context, link_id: int, status: int) -> int:
    try:
        return ctx.intro.fd_by_id("link", link_id)
    except BpfError as exc:
        raise CliError(f"failed to get link with ID {link_id}: {strerror(exc)}", status) from None


def _show(args: argparse.Namespace, out: TextIO) -> int:
    ctx = Context.from_args(args, out)
    return ctx.run(lambda c: _show_body(c, list(args.words)))


def _show_body(ctx: Context, words: list[str]) -> int:
    link_id = parse_id(words, "LINK")
    if link_id is not None:
        row = link_record(ctx.intro.link_info(_open(ctx, link_id, 254)))
        ctx.emit(row) if ctx.json else ctx.out.write(_plain(row))
        return 0
    rows = [link_record(info) for info in ctx.intro.links()]
    if ctx.json:
        ctx.emit(rows)
    else:
        ctx.out.write("".join(_plain(r) for r in rows))
    return 0


def _detach(args: argparse.Namespace, out: TextIO) -> int:
    ctx = Context.from_args(args, out)
    return ctx.run(lambda c: _detach_body(c, list(args.words)))


def _detach_body(ctx: Context, words: list[str]) -> int:
    link_id = parse_id(words, "LINK")
    assert link_id is not None
    fd = _open(ctx, link_id, 1)
    try:
        ctx.kernel.bpf(Cmd.BPF_LINK_DETACH, LinkDetachAttr(fd))
    except BpfError as exc:
        raise CliError(f"failed to detach link: {strerror(exc)}") from None
    if ctx.json:
        ctx.emit(None)
    return 0
