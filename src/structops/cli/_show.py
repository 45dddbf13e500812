"""The ``show`` / ``list`` verbs of bpftool's map, prog and link groups: one loop for all.

``show id ID`` opens the object (GET_FD_BY_ID) and prints its record; plain ``show``
walks every id (GET_NEXT_ID), skips objects freed between the walk and the open
(ENOENT, as bpftool does) and prints one record each: a JSON array under ``-j``, the
plain lines otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from structops.cli._context import CliError, Context, add_words_verb, parse_id, strerror
from structops.errors import BpfError
from structops.introspect import ObjKind

__all__ = ["Listing", "open_error", "plain_head", "record_head"]

Row = dict[str, Any]


@dataclass(frozen=True)
class Listing:
    """How one object kind is listed: its record (JSON object), plain text and open error."""

    kind: ObjKind
    #: The metavar of the selector words (``MAP``, ``PROG``, ``LINK``).
    metavar: str
    #: fd -> the JSON object bpftool prints for the object.
    record: Callable[[Context, int], Row]
    #: JSON object -> bpftool's plain lines (continuation lines start with a tab).
    plain: Callable[[Row], list[str]]
    #: ``show id ID`` could not open the object: the message (and exit status).
    open_failed: Callable[[int, BpfError], CliError]

    def register(self, verbs: Any, help_text: str) -> None:
        """Add ``show`` and its alias ``list`` to a group's ``verbs``."""
        for verb in ("show", "list"):
            add_words_verb(verbs, verb, help_text, self.metavar, self.show, "*")

    def text(self, row: Row) -> str:
        """The plain output of one record."""
        return "".join(line + "\n" for line in self.plain(row))

    def open(self, ctx: Context, obj_id: int) -> int:
        """GET_FD_BY_ID, failing with this kind's message."""
        try:
            return ctx.intro.fd_by_id(self.kind, obj_id)
        except BpfError as exc:
            raise self.open_failed(obj_id, exc) from None

    def show(self, ctx: Context, words: list[str]) -> int:
        """``show [id ID]``."""
        obj_id = parse_id(words, self.metavar)
        if obj_id is not None:
            row = self.record(ctx, self.open(ctx, obj_id))
            ctx.emit(row) if ctx.json else ctx.out.write(self.text(row))
            return 0
        rows = [self.record(ctx, fd) for fd in ctx.intro.fds(self.kind)]
        if ctx.json:
            ctx.emit(rows)
        else:
            ctx.out.write("".join(self.text(r) for r in rows))
        return 0


def open_error(template: str, status: int | None = None) -> Callable[[int, BpfError], CliError]:
    """An ``open_failed`` giving ``template.format(id=...)`` plus the errno's words."""

    def failed(obj_id: int, exc: BpfError) -> CliError:
        message = f"{template.format(id=obj_id)}: {strerror(exc)}"
        return CliError(message) if status is None else CliError(message, status)

    return failed


def record_head(obj_id: int, obj_type: int, type_name: str | None) -> Row:
    """``{"id", "type"}``, the first keys of every record (the number for an unknown type)."""
    return {"id": obj_id, "type": type_name if type_name is not None else obj_type}


def plain_head(row: Row) -> str:
    """``ID: TYPE  [name NAME  ]``, how every plain record starts."""
    tname = row["type"] if isinstance(row["type"], str) else f"type {row['type']}"
    head = f"{row['id']}: {tname}  "
    if "name" in row:
        head += f"name {row['name']}  "
    return head
