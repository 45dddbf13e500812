"""``structops prog {show|list} [id ID]``: bpftool's program listing.

Plain layout (bpftool 7.1, observed; continuation lines start with a tab)::

    1489: struct_ops  name so_cubic_init  tag 7d59564474a0d311  gpl
        loaded_at 2026-12-01T06:13:13+0000  uid 0
        xlated 136B  jited 80B  memlock 4096B  map_ids 675
        btf_id 531

``-j`` keys in order: ``id, type, name (when set), tag, gpl_compatible, run_time_ns /
run_cnt (when stats ran), recursion_misses (when non-zero), loaded_at, uid,
bytes_xlated, jited, bytes_jited (when jited), bytes_memlock, map_ids (when any),
btf_id (when non-zero)``.  ``loaded_at`` is the load time (CLOCK_BOOTTIME) converted to
wall-clock seconds; ``bytes_memlock`` comes from the fdinfo of either kernel.
"""

from __future__ import annotations

import time
from typing import Any

from structops.cli._context import Context, add_group, boottime_offset
from structops.cli._show import Listing, open_error, plain_head, record_head
from structops.introspect import ProgInfo, prog_type_name

__all__ = ["prog_record", "register"]


def register(groups: Any) -> None:
    """Add the ``prog`` command group."""
    verbs = add_group(groups, "prog", "inspect programs (bpftool prog)")
    LISTING.register(verbs, "show programs: [id ID]")


def prog_record(ctx: Context, fd: int, info: ProgInfo) -> dict[str, Any]:
    """The JSON object bpftool prints for one program."""
    row = record_head(info.id, info.type, prog_type_name(info.type))
    name = ctx.intro.prog_full_name(fd, info)
    if name:
        row["name"] = name
    row["tag"] = info.tag.hex()
    row["gpl_compatible"] = info.gpl_compatible
    if info.run_time_ns:
        row["run_time_ns"] = info.run_time_ns
        row["run_cnt"] = info.run_cnt
    if info.recursion_misses:
        row["recursion_misses"] = info.recursion_misses
    if info.load_time:
        row["loaded_at"] = int(boottime_offset() + info.load_time / 1e9)
        row["uid"] = info.created_by_uid
    row["bytes_xlated"] = info.xlated_prog_len
    row["jited"] = bool(info.jited_prog_len)
    if info.jited_prog_len:
        row["bytes_jited"] = info.jited_prog_len
    row["bytes_memlock"] = int(ctx.fd_facts(fd).get("memlock", "0"))
    if info.map_ids:
        row["map_ids"] = list(info.map_ids)
    if info.btf_id:
        row["btf_id"] = info.btf_id
    return row


def _plain(row: dict[str, Any]) -> list[str]:
    head = plain_head(row) + f"tag {row['tag']}"
    if row["gpl_compatible"]:
        head += "  gpl"
    if "run_time_ns" in row:
        head += f" run_time_ns {row['run_time_ns']} run_cnt {row['run_cnt']}"
    if "recursion_misses" in row:
        head += f" recursion_misses {row['recursion_misses']}"
    lines = [head]
    if "loaded_at" in row:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.gmtime(row["loaded_at"]))
        lines.append(f"\tloaded_at {stamp}  uid {row['uid']}")
    third = f"\txlated {row['bytes_xlated']}B  "
    third += f"jited {row['bytes_jited']}B  " if row["jited"] else "not jited  "
    third += f"memlock {row['bytes_memlock']}B"
    if "map_ids" in row:
        third += "  map_ids " + ",".join(str(i) for i in row["map_ids"])
    lines.append(third)
    return [*lines, f"\tbtf_id {row['btf_id']}"] if "btf_id" in row else lines


#: ``prog show`` / ``prog list``.
def _row(ctx: Context, fd: int) -> dict[str, Any]:
    return prog_record(ctx, fd, ctx.intro.prog_info(fd))


LISTING = Listing("prog", "PROG", _row, _plain, open_error("get by id ({id})"))
