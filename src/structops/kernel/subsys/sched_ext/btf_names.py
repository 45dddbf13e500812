"""Which names of the embedded kernel's BTF belong to sched_ext (absent from this machine's kernel).

The project machines run 6.18 without ``CONFIG_SCHED_CLASS_EXT``, so their
``/sys/kernel/btf/vmlinux`` has none of these; their reference is a real 6.18
``vmlinux.h`` with sched_ext (the scx repository's), checked by
``tests/unit/sched_ext/test_scx_btf.py``.  ``task_struct.scx`` is the one member of a
kernel struct that only a sched_ext kernel has.
"""

from __future__ import annotations

__all__ = ["SCX_TASK_MEMBERS", "is_sched_ext_name"]

_PREFIXES = ("scx_", "sched_ext", "bpf_struct_ops_sched_ext_ops", "bpf_iter_scx_dsq", "__scx")
#: Members of ``struct task_struct`` that exist only with CONFIG_SCHED_CLASS_EXT.
SCX_TASK_MEMBERS = frozenset({"scx"})


def is_sched_ext_name(name: str) -> bool:
    """A type, enum or function name that exists only in a kernel with sched_ext."""
    return name.startswith(_PREFIXES)
