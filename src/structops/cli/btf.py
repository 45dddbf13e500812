"""``structops btf dump file PATH [format raw|c]``: list or print BTF like ``bpftool btf dump``.

``format raw`` (the default) prints one ``[id] KIND 'name' ...`` line per type as
bpftool does; ``format c`` prints a compilable C header.  ``--type NAME`` restricts the
output to the types called NAME (and, for C, what they need); ``--base FILE`` parses
PATH as split BTF on top of FILE (bpftool's ``-B``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from structops import btf
from structops.btf.rawdump import dump_raw
from structops.cli._context import add_group

__all__ = ["register"]


def register(groups: Any) -> None:
    """Add the ``btf`` command group to the top-level sub-parsers."""
    verbs = add_group(groups, "btf", "inspect BTF (BPF Type Format) data")
    dump = verbs.add_parser("dump", help="dump BTF types, as raw listing or C header")
    dump.add_argument("source", choices=["file"], help="where the BTF comes from (file)")
    dump.add_argument("path", help="raw BTF file (/sys/kernel/btf/vmlinux) or an ELF object with .BTF")
    dump.add_argument("format_kw", nargs="?", choices=["format"], metavar="format")
    dump.add_argument("format", nargs="?", choices=["raw", "c"], default="raw", help="raw or c")
    dump.add_argument("--type", dest="type_name", metavar="NAME", help="only types called NAME")
    dump.add_argument("--base", metavar="FILE", help="base BTF for split BTF (bpftool -B)")
    dump.set_defaults(func=_dump)


def _raw_btf(path: str) -> bytes:
    """The raw BTF in ``path``: the file itself, or the ``.BTF`` section of an ELF object (as bpftool)."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x7fELF"):
        return data
    from structops.loader._elf import ElfObject

    section = ElfObject(data).by_name(".BTF")
    if section is None:
        raise btf.BTFError(f"{path} is an ELF object without a .BTF section (build it with clang -g)")
    return section.data


def _load(path: str, base: str | None) -> btf.Spec:
    base_spec = btf.parse(_raw_btf(base)) if base else None
    return btf.parse(_raw_btf(path), base_spec)


def _dump(args: argparse.Namespace, out: TextIO) -> int:
    if args.format_kw is None and args.format != "raw":
        raise SystemExit(2)  # pragma: no cover - argparse cannot produce this
    spec = _load(args.path, args.base)
    types = None
    if args.type_name is not None:
        types = spec.find_all(args.type_name)
        if not types:
            raise btf.BTFError(f"no type named {args.type_name!r} in {args.path}")
    if args.format == "c":
        out.write(btf.dump_c(spec, types))
    else:
        for line in dump_raw(spec, types):
            out.write(line + "\n")
    return 0
