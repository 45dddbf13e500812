"""BTF, the BPF Type Format: parse, build, inspect and print (kernel Documentation/bpf/btf.rst).

::

    spec = btf.load_vmlinux()                     # /sys/kernel/btf/vmlinux, cached
    ops = spec.find("tcp_congestion_ops", btf.Struct)
    btf.member_offset(ops, "init")                # 136 on 6.18
    blob = btf.encode([btf.Int("int", 4, btf.IntEncoding.SIGNED)])

Modules: ``_wire`` (header, kinds, record layouts), ``types`` (the graph), ``parse``
(decoding into :class:`Spec`), ``build`` (the encoder), ``layout`` (sizes, offsets),
``dump`` (C header output).
"""

from __future__ import annotations

import threading
from pathlib import Path

from structops.btf import types as _types
from structops.btf._wire import Kind
from structops.btf.build import Builder, encode
from structops.btf.dump import dump_c
from structops.btf.layout import alignof, is_func_pointer, member_offset, sizeof, underlying
from structops.btf.parse import Spec, parse, parse_file
from structops.btf.types import *  # noqa: F403  (the whole type graph; names in types.__all__)
from structops.errors import BTFError

__all__ = [
    "VMLINUX_PATH",
    "BTFError",
    "Builder",
    "Kind",
    "Spec",
    "alignof",
    "dump_c",
    "encode",
    "is_func_pointer",
    "load_vmlinux",
    "member_offset",
    "parse",
    "parse_file",
    "sizeof",
    "underlying",
]
__all__ += _types.__all__

VMLINUX_PATH = "/sys/kernel/btf/vmlinux"
_vmlinux: dict[str, Spec] = {}
_lock = threading.Lock()


def load_vmlinux(path: str | Path = VMLINUX_PATH) -> Spec:
    """Parse the kernel's BTF at ``path`` once per process and return the cached spec.

    The kernel has already checked its own BTF, so records are not re-validated up
    front (a bad reference still raises BTFError when touched).  BTFError if the file
    cannot be read.
    """
    key = str(path)
    with _lock:
        spec = _vmlinux.get(key)
        if spec is None:
            spec = _vmlinux[key] = parse_file(path, validate=False)
        return spec
