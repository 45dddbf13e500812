"""``structops struct_ops {show|list|dump|register|unregister}``: bpftool's struct_ops verbs.

Output shapes follow bpftool (selftests report C.1-C.5, kernel-6.18-observed section 3):

* ``show``: ``ID: NAME            TYPE`` per map (``%u: %-15s %-32s``); ``-j`` a list of
  ``{"id","name","kernel_struct_ops"}`` (a single object for ``show id N``);
* ``dump``: per map ``{"bpf_map_info": {...}}`` then ``{"bpf_struct_ops_<type>": value}``
  with function slots as ``"<proto> <prog>/prog_id:<id>"``.  Unlike bpftool 7.1 (whose
  ``dump id N -j`` prints two objects with no enclosing ``[]``) the output is always one
  valid JSON list; plain mode quotes pointers (``"(nil)"``) so it is valid JSON too;
* ``register OBJ [LINK_DIR]``: ``Registered <type> <name> id <map id>`` (legacy maps) or
  ``... map id <id> link id <id>`` (link maps) on stderr; with LINK_DIR each link is
  pinned at ``LINK_DIR/<map name>`` (bpftool 7.1 lacks LINK_DIR).  Failures report the
  real errno text (bpftool 7.1 prints "Success");
* ``unregister``: MAP_DELETE_ELEM, ``Unregistered <type> <name> id <id>``.

Errors exit with 255 like bpftool.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
from typing import Any, TextIO

from structops.abi.attrs import MapElemAttr, ObjPinAttr
from structops.abi.consts import Cmd, MapFlags
from structops.abi.protocol import Kernel
from structops.cli._btfvalue import decode
from structops.cli._context import (
    CliError,
    Context,
    add_group,
    add_output_options,
    add_words_verb,
    parse_selector,
    strerror,
)
from structops.errors import BpfError, FormatError
from structops.introspect import MapInfo

__all__ = ["register"]

_USAGE = "STRUCT_OPS_MAP := { id STRUCT_OPS_MAP_ID | name STRUCT_OPS_MAP_NAME }"


def register(groups: Any) -> None:
    """Add the ``struct_ops`` command group."""
    verbs = add_group(groups, "struct_ops", "inspect and (un)register struct_ops maps (bpftool struct_ops)")
    for verb in ("show", "list", "dump"):
        body = _dump_body if verb == "dump" else _show_body
        add_words_verb(verbs, verb, f"{verb} struct_ops maps; {_USAGE}", "STRUCT_OPS_MAP", body, "*")
    p = verbs.add_parser("register", help="load OBJ and register its struct_ops maps")
    p.add_argument("obj", metavar="OBJ")
    p.add_argument("link_dir", nargs="?", metavar="LINK_DIR", help="pin the links of link maps here")
    add_output_options(p)
    p.set_defaults(func=_register)
    add_words_verb(verbs, "unregister", f"unregister struct_ops maps; {_USAGE}", "STRUCT_OPS_MAP", _unregister_body)


# ---------------------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------------------
def _select(ctx: Context, words: list[str]) -> list[tuple[int, MapInfo]]:
    """(fd, info) of the struct_ops maps a selector names; CliError like bpftool."""
    sel = parse_selector(words)
    intro = ctx.intro
    if sel is None:
        return intro.maps_where(lambda info: info.is_struct_ops)
    kind, value = sel
    if kind == "id":
        assert isinstance(value, int)
        try:
            fd = intro.fd_by_id("map", value)
        except BpfError as exc:
            raise CliError(f"can't get map by id ({value}): {strerror(exc)}") from None
        info = intro.map_info(fd)
        if not info.is_struct_ops:
            raise CliError(f"{info.name} id {info.id} is not a struct_ops map")
        return [(fd, info)]
    assert isinstance(value, str)
    return [(fd, info) for fd, info in intro.map_fds_by_name(value) if info.is_struct_ops]


def _no_match(words: list[str]) -> CliError:
    return CliError(f"no struct_ops found for {words[1] if len(words) > 1 else ''}")


# ---------------------------------------------------------------------------------------
# show / dump
# ---------------------------------------------------------------------------------------
def _show_body(ctx: Context, words: list[str]) -> int:
    maps = _select(ctx, words)
    rows = [
        {"id": info.id, "name": info.name, "kernel_struct_ops": ctx.intro.struct_ops_type(info)} for _, info in maps
    ]
    if words and words[0] == "name" and not rows:
        if ctx.json:
            ctx.emit([])
            return 255
        raise _no_match(words)
    if ctx.json:
        ctx.emit(rows[0] if words and words[0] == "id" else rows)
    else:
        for row in rows:
            ctx.out.write(f"{row['id']}: {row['name']:<15} {row['kernel_struct_ops']:<32}\n")
    return 0


def _prog_name(ctx: Context, prog_id: int) -> str | None:
    try:
        fd = ctx.intro.fd_by_id("prog", prog_id)
        return ctx.intro.prog_full_name(fd, ctx.intro.prog_info(fd)) or None
    except (BpfError, ValueError):
        return None


def _dump_body(ctx: Context, words: list[str]) -> int:
    maps = _select(ctx, words)
    plain = not ctx.json
    docs: list[Any] = []
    for fd, info in maps:
        _, vtype = ctx.intro.struct_ops_value_type(info)
        value = ctx.intro.lookup(fd, b"\0\0\0\0", info.value_size)
        decoded = decode(vtype, value, plain=plain, prog_names=lambda i: _prog_name(ctx, i))
        docs.append({"bpf_map_info": dict(info.fields)})
        docs.append({vtype.name: decoded})
    was_pretty = ctx.pretty
    ctx.pretty = ctx.pretty or plain  # bpftool's plain dump is pretty JSON
    ctx.emit(docs)
    ctx.pretty = was_pretty
    if words and words[0] == "name" and not maps:
        return 255
    return 0


# ---------------------------------------------------------------------------------------
# register / unregister
# ---------------------------------------------------------------------------------------
def _unregister_body(ctx: Context, words: list[str]) -> int:
    maps = _select(ctx, words)
    if not maps:
        raise _no_match(words)
    failed = False
    for fd, info in maps:
        kt = ctx.intro.struct_ops_type(info)
        try:
            ctx.kernel.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=b"\0\0\0\0"))
        except BpfError as exc:
            hint = ""
            if exc.errno == errno.EOPNOTSUPP and info.map_flags & MapFlags.BPF_F_LINK:
                links = [lk.id for lk in ctx.intro.links() if lk.map_id == info.id]
                how = f"structops link detach id {links[0]}" if links else "detach or close its link"
                hint = f" (it is registered through a link: {how})"
            ctx.fail(f"can't unload {kt} {info.name} id {info.id}: {strerror(exc)}{hint}")
            failed = True
            continue
        ctx.info(f"Unregistered {kt} {info.name} id {info.id}")
    if ctx.json and not failed:
        ctx.emit(None)
    return 255 if failed else 0


def _emulated_root(kernel: Kernel) -> Any | None:
    """The EmulatedKernel behind ``kernel`` (itself or a Process of it), else None."""
    from structops.kernel.emulated import EmulatedKernel, Process

    if isinstance(kernel, EmulatedKernel):
        return kernel
    if isinstance(kernel, Process):
        return kernel.kernel
    return None


def _make_dirs(kernel: Kernel, path: str) -> None:
    """mkdir -p ``path`` on bpffs (emulated bpffs or the real file system)."""
    emu = _emulated_root(kernel)
    if emu is None:
        os.makedirs(path, exist_ok=True)
        return
    norm = path.rstrip("/")
    parts = norm.split("/")
    for i in range(2, len(parts) + 1):
        with contextlib.suppress(OSError):
            emu.bpffs.mkdir("/".join(parts[:i]))


def _register(args: argparse.Namespace, out: TextIO) -> int:
    ctx = Context.from_args(args, out)
    return ctx.run(lambda c: _register_body(c, args.obj, args.link_dir))


def _register_body(ctx: Context, obj: str, link_dir: str | None) -> int:
    from structops.api import Collection

    emu = _emulated_root(ctx.kernel)
    # Like the bpftool process: its own fd table, closed when the command ends.
    kernel: Kernel = emu.process() if emu is not None else ctx.kernel
    try:
        try:
            coll = Collection.open(obj)
        except (OSError, FormatError) as exc:
            raise CliError(f"failed to open object file {obj}: {exc}") from None
        if not any(m.struct_ops is not None for m in coll.spec.maps.values()):
            raise CliError(f"no struct_ops found in {obj}")
        try:
            coll.load(kernel)
        except (BpfError, FormatError) as exc:
            raise CliError(f"failed to load object file {obj}: {exc}") from None
        if link_dir:
            _make_dirs(kernel, link_dir)
        failures = sum(_register_map(ctx, kernel, coll, name, link_dir) for name in coll.maps)
        if not emu:
            coll.close()
    finally:
        if emu is not None:
            kernel.exit()  # type: ignore[attr-defined]
    if failures:
        return 255
    if ctx.json:
        ctx.emit(None)
    return 0


def _register_map(ctx: Context, kernel: Kernel, coll: Any, name: str, link_dir: str | None) -> int:
    """Attach one map of ``coll``; returns 1 on failure (already reported), else 0."""
    m = coll.maps[name]
    if m.spec.struct_ops is None:
        return 0
    try:
        link = m.attach_struct_ops()
    except BpfError as exc:
        ctx.fail(f"can't register struct_ops {name}: {strerror(exc)}")
        return 1
    info = ctx.intro.map_info(m.fd) if kernel is ctx.kernel else _info_via(kernel, m.fd)
    kt = ctx.intro.struct_ops_type(info)
    if link.is_legacy:
        ctx.info(f"Registered {kt} {info.name} id {info.id}")
        return 0
    link_id = link.info()["id"]
    if link_dir:
        path = f"{link_dir.rstrip('/')}/{name}"
        try:
            kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=link.fd))
        except BpfError as exc:
            ctx.fail(f"can't pin link {link_id} for {name}: {strerror(exc)}")
            link.close()
            return 1
    ctx.info(f"Registered {kt} {info.name} map id {info.id} link id {link_id}")
    if not link_dir:
        ctx.info(f"Warning: no LINK_DIR: the link of {name} is released (unregistered) when the command ends")
    link.close()
    return 0


def _info_via(kernel: Kernel, fd: int) -> MapInfo:
    from structops.introspect import Introspector

    with Introspector(kernel) as intro:
        return intro.map_info(fd)
