"""Kernel objects, their ids and reference counts, per-process fd tables and bpffs.

Mirrors the generic object model of ``kernel/bpf/syscall.c``: every map, program, link
and BTF object has a global id (idr, allocated cyclically from 1) and a reference
count; files (fds) hold one reference each; an object is freed when its last reference
is dropped (F1-F3), at which point its id disappears at once and the type-specific free
runs (possibly deferred after an RCU grace period, see :mod:`structops.kernel.rcu`).
"""

from __future__ import annotations

import errno
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.kernel.services import KernelServices

__all__ = ["Bpffs", "FdTable", "File", "IdTable", "KObject"]


class KObject:
    """Base of every refcounted kernel object (map, prog, link, btf).

    ``refcnt`` counts all references; ``usercnt`` (maps only) counts user-space holders
    (fds and pins) as the kernel's ``map->usercnt`` does.
    """

    KIND: ClassVar[str] = "object"

    def __init__(self, kernel: KernelServices) -> None:
        self.kernel = kernel
        self.id = 0
        self.refcnt = 1
        self.usercnt = 0
        self.freed = False
        self._lock = threading.RLock()

    # -- references -------------------------------------------------------------------
    def get(self) -> None:
        """Take a reference (``bpf_map_inc`` / ``bpf_prog_inc`` / ``bpf_link_inc``)."""
        with self._lock:
            if self.freed or self.refcnt <= 0:
                raise bpf_error(errno.ENOENT, f"{self.KIND} {self.id} is being freed")
            self.refcnt += 1

    def try_get(self) -> bool:
        """``inc_not_zero``: take a reference unless the count already hit zero (F2)."""
        with self._lock:
            if self.freed or self.refcnt <= 0:
                return False
            self.refcnt += 1
            return True

    def put(self) -> None:
        """Drop a reference; the last one frees the object (F3)."""
        with self._lock:
            if self.refcnt <= 0:
                raise AssertionError(f"{self.KIND} {self.id}: refcount underflow")
            self.refcnt -= 1
            last = self.refcnt == 0
        if last:
            self.kernel.ids[self.KIND].remove(self)
            self.freed = True
            self.release()

    def user_get(self) -> None:
        """A user holder (fd, pin) arrives: refcnt and usercnt both go up."""
        self.get()
        with self._lock:
            self.usercnt += 1

    def user_put(self) -> None:
        """A user holder goes away; drops usercnt then the reference."""
        with self._lock:
            self.usercnt -= 1
            last_user = self.usercnt == 0
        if last_user:
            self.on_last_user()
        self.put()

    def on_last_user(self) -> None:
        """Hook for the kernel's ``map_release_uref`` (nothing by default)."""

    def release(self) -> None:
        """Free type-specific resources once the last reference is gone."""


@dataclass
class File:
    """An open file description for a bpf object (``anon_inode`` or bpffs-opened).

    ``readable`` / ``writable`` model FMODE_CAN_READ / FMODE_CAN_WRITE (U0a, L1, D1).
    """

    obj: KObject
    readable: bool = True
    writable: bool = True
    closed: bool = False


T = TypeVar("T", bound=KObject)


class IdTable:
    """One idr: ids allocated cyclically from 1, looked up by value (GET_NEXT_ID)."""

    MAX_ID = 0x7FFFFFFF

    def __init__(self) -> None:
        self._objs: dict[int, KObject] = {}
        self._next = 1
        self._lock = threading.Lock()

    def add(self, obj: KObject) -> int:
        """Allocate an id for ``obj`` (-ENOSPC when the space is exhausted, C14)."""
        with self._lock:
            for _ in range(len(self._objs) + 1):
                candidate = self._next
                self._next = self._next + 1 if self._next < self.MAX_ID else 1
                if candidate not in self._objs:
                    self._objs[candidate] = obj
                    obj.id = candidate
                    return candidate
        raise bpf_error(errno.ENOSPC, "id space exhausted")

    def remove(self, obj: KObject) -> None:
        """Free ``obj``'s id (first step of the free path, F3)."""
        with self._lock:
            if self._objs.get(obj.id) is obj:
                del self._objs[obj.id]

    def get(self, obj_id: int) -> KObject | None:
        """The live object with this id, or None."""
        return self._objs.get(obj_id)

    def next_id(self, start: int) -> int | None:
        """Smallest id greater than ``start`` (BPF_*_GET_NEXT_ID)."""
        with self._lock:
            later = [i for i in self._objs if i > start]
        return min(later) if later else None

    def __iter__(self) -> Iterator[KObject]:
        with self._lock:
            objs = list(self._objs.values())
        return iter(objs)

    def __len__(self) -> int:
        return len(self._objs)


class FdTable:
    """A process's fd table: the lowest free fd >= 3 (0-2 are stdio), like a real process."""

    FIRST_FD = 3
    MAX_FDS = 1 << 20

    def __init__(self) -> None:
        self._files: dict[int, File] = {}
        self._lock = threading.Lock()

    def install(self, file: File) -> int:
        """Install ``file`` at the lowest free fd."""
        with self._lock:
            for fd in itertools.count(self.FIRST_FD):
                if fd >= self.MAX_FDS:
                    raise bpf_error(errno.EMFILE, "too many open files")
                if fd not in self._files:
                    self._files[fd] = file
                    return fd
        raise AssertionError("unreachable")

    def lookup(self, fd: int) -> File:
        """The file at ``fd`` or -EBADF."""
        file = self._files.get(fd)
        if file is None:
            raise bpf_error(errno.EBADF, f"fd {fd} is not open")
        return file

    def remove(self, fd: int) -> File:
        """Detach ``fd`` from the table (close); -EBADF if it is not open."""
        with self._lock:
            file = self._files.pop(fd, None)
        if file is None:
            raise bpf_error(errno.EBADF, f"fd {fd} is not open")
        return file

    def fds(self) -> list[int]:
        """Open fds, ascending."""
        with self._lock:
            return sorted(self._files)

    def __len__(self) -> int:
        return len(self._files)


class Bpffs:
    """An emulated bpffs: paths under a mount point hold one user reference each.

    Paths are plain strings; a pin needs an existing parent directory (``mkdir``) and a
    free name (-EEXIST); OBJ_GET of a missing path is -ENOENT.
    """

    def __init__(self, root: str = "/sys/fs/bpf") -> None:
        self.root = root.rstrip("/")
        self._pins: dict[str, KObject] = {}
        self._dirs: set[str] = {self.root}
        self._lock = threading.Lock()

    def _norm(self, path: str) -> str:
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return "/" + "/".join(parts)

    def _check_under_root(self, path: str) -> str:
        norm = self._norm(path)
        if norm != self.root and not norm.startswith(self.root + "/"):
            raise bpf_error(errno.EINVAL, f"{path} is not on a bpf filesystem")
        return norm

    def _check_new(self, path: str) -> str:
        """``path`` normalised: its parent must exist (-ENOENT), the name be free (-EEXIST); hold _lock."""
        norm = self._check_under_root(path)
        parent = norm.rsplit("/", 1)[0] or "/"
        if parent not in self._dirs:
            raise bpf_error(errno.ENOENT, f"{parent} does not exist")
        if norm in self._pins or norm in self._dirs:
            raise bpf_error(errno.EEXIST, f"{path} exists")
        return norm

    def mkdir(self, path: str) -> None:
        """Create a directory (parents must exist)."""
        with self._lock:
            self._dirs.add(self._check_new(path))

    def pin(self, path: str, obj: KObject) -> None:
        """Pin ``obj`` at ``path`` (takes a user reference)."""
        with self._lock:
            norm = self._check_new(path)
            obj.user_get()
            self._pins[norm] = obj

    def get(self, path: str) -> KObject:
        """The object pinned at ``path`` (no reference taken)."""
        norm = self._check_under_root(path)
        obj = self._pins.get(norm)
        if obj is None:
            raise bpf_error(errno.ENOENT, f"{path} is not pinned")
        return obj

    def unlink(self, path: str) -> None:
        """Remove a pin (drops its user reference) or an empty directory."""
        norm = self._check_under_root(path)
        with self._lock:
            obj = self._pins.pop(norm, None)
            if obj is None:
                if norm in self._dirs and norm != self.root:
                    if any(p.startswith(norm + "/") for p in (*self._pins, *self._dirs)):
                        raise bpf_error(errno.ENOTEMPTY, f"{path} is not empty")
                    self._dirs.discard(norm)
                    return
                raise bpf_error(errno.ENOENT, f"{path} does not exist")
        obj.user_put()

    def listdir(self, path: str) -> list[str]:
        """Names directly under ``path``."""
        norm = self._check_under_root(path)
        prefix = norm.rstrip("/") + "/"
        names = {p[len(prefix) :].split("/", 1)[0] for p in (*self._pins, *self._dirs) if p.startswith(prefix)}
        return sorted(names)

    def pins(self) -> dict[str, KObject]:
        """All pins (path -> object)."""
        with self._lock:
            return dict(self._pins)

    def clear(self, on_error: Callable[[str, Exception], None] | None = None) -> None:
        """Unpin everything (unmount)."""
        for path in list(self._pins):
            try:
                self.unlink(path)
            except Exception as exc:  # pragma: no cover - defensive
                if on_error:
                    on_error(path, exc)
