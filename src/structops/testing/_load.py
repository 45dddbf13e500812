"""Open, load and register one struct_ops map of an object (shared by the test harnesses)."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.abi.protocol import Kernel
    from structops.api import Collection, Link, Map

H = TypeVar("H")

__all__ = ["LoadedObject", "build", "kernel_map", "open_and_register", "pick_struct_ops_map"]


def pick_struct_ops_map(coll: Collection, map_name: str | None, type_names: tuple[str, ...] = ()) -> Map:
    """The struct_ops map called ``map_name``, or the only one (of ``type_names``) in ``coll``."""
    maps = {n: m for n, m in coll.maps.items() if m.spec.struct_ops is not None}
    if map_name is not None:
        if map_name not in maps:
            have = ", ".join(maps) or "none"
            raise bpf_error(errno.ENOENT, f"{coll.spec.object_name} has no struct_ops map {map_name!r} (has: {have})")
        return maps[map_name]
    if type_names:
        maps = {n: m for n, m in maps.items() if m.spec.struct_ops and m.spec.struct_ops.type_name in type_names}
    if len(maps) != 1:
        what = " or ".join(type_names) or "struct_ops"
        raise bpf_error(
            errno.EINVAL,
            f"{coll.spec.object_name} has {len(maps)} {what} maps ({', '.join(maps) or 'none'}); "
            "name one with map_name=",
        )
    return next(iter(maps.values()))


def open_and_register(
    obj: str | Path | bytes | Collection,
    map_name: str | None,
    kernel: Kernel | None,
    type_names: tuple[str, ...] = (),
) -> tuple[Collection, Map, Link | None]:
    """Load ``obj`` (a path, ELF bytes or an opened :class:`Collection`) and attach one map.

    ``bpf_dummy_ops`` is never registered (Linux refuses: its programs run through
    ``BPF_PROG_TEST_RUN`` only), so no link is returned for it.
    """
    from structops.api import Collection

    coll = obj if isinstance(obj, Collection) else Collection.open(obj)
    if coll.kernel is None:
        coll.load(kernel)
    try:
        m = pick_struct_ops_map(coll, map_name, type_names)
        st = m.spec.struct_ops
        link = None if st is not None and st.type_name == "bpf_dummy_ops" else m.attach_struct_ops()
    except BaseException:
        coll.close()
        raise
    return coll, m, link


def kernel_map(kernel: object, fd: int) -> Any:
    """The embedded kernel's map object behind ``fd`` (the calling process's table)."""
    proc: Any = getattr(kernel, "root", kernel)
    m, _ = proc.get_map(fd)
    return m


class LoadedObject:
    """What every harness holds: the collection, the registered map and its link.

    Use it as a context manager or call :meth:`close`; ``maps`` are the object's maps.
    """

    __test__ = False

    def __init__(self, coll: Collection, st_map: Map, link: Link | None, kernel: Kernel) -> None:
        self.collection = coll
        self.map = st_map
        self.link = link
        self.kernel = kernel
        self._closed = False

    @property
    def maps(self) -> dict[str, Map]:
        """The object's maps by name."""
        return self.collection.maps

    def _teardown(self) -> None:
        """Subclass hook run first by :meth:`close` (sockets, scratch memory…)."""

    def close(self) -> None:
        """Release what the harness made, unregister (detach the link) and close the object."""
        if self._closed:
            return
        self._closed = True
        self._teardown()
        if self.link is not None:
            with contextlib.suppress(OSError):
                self.link.close()
        self.collection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build(
    make: Callable[[Collection, Map, Link | None, Any], H], coll: Collection, st_map: Map, link: Link | None
) -> H:
    """``make(coll, st_map, link, kernel)``; on failure the link is detached and the object closed."""
    try:
        return make(coll, st_map, link, coll.kernel)
    except BaseException:
        if link is not None:
            with contextlib.suppress(OSError):
                link.close()
        coll.close()
        raise
