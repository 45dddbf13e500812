"""C header output of BTF types (like ``bpftool btf dump file X format c``)."""

from __future__ import annotations

from collections.abc import Sequence

from structops.btf.parse import Spec
from structops.btf.types import Type

__all__ = ["dump_c"]


def dump_c(spec: Spec, roots: Sequence[Type] | None = None) -> str:
    """Return a C header declaring ``roots`` (default: every type) and their dependencies."""
    raise NotImplementedError("dump_c lands in the next commit")
