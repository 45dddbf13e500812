"""``Handle``: the fd-held part shared by a loaded map and a loaded program.

Both are an fd owned by the object (:class:`structops.abi.fd.Fd`), the spec they were
loaded from, and the kernel they live in; their id comes from BPF_OBJ_GET_INFO_BY_FD
(read through the ``structops.abi.tables`` info layout of the kind), pinning is
BPF_OBJ_PIN of the fd.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Generic, Protocol, TypeVar

from structops.abi.attrs import InfoAttr, ObjPinAttr
from structops.abi.consts import Cmd
from structops.abi.fd import Fd
from structops.abi.layout import Layout
from structops.abi.protocol import Kernel

__all__ = ["Handle"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


SpecT = TypeVar("SpecT", bound=_Named)


class Handle(Generic[SpecT]):
    """A loaded kernel object held by an fd: fd, name, id, pin, close and repr."""

    #: The info struct BPF_OBJ_GET_INFO_BY_FD fills for this kind of object.
    _INFO: ClassVar[Layout]
    #: The enum prefix dropped from the type's name in the repr (``BPF_MAP_TYPE_``…).
    _TYPE_PREFIX: ClassVar[str]

    def __init__(self, kernel: Kernel, fd: int, spec: SpecT) -> None:
        self._fd = Fd.of(kernel, fd)
        self.kernel = kernel
        self.spec = spec

    @property
    def fd(self) -> int:
        """The object's fd."""
        return self._fd.fd

    @property
    def name(self) -> str:
        """The object's name (as in the ELF object)."""
        return self.spec.name

    @property
    def type(self) -> enum.IntEnum:
        """The object's type enum (overridden by each kind)."""
        raise NotImplementedError

    def _info(self) -> bytearray:
        """The object's info struct from BPF_OBJ_GET_INFO_BY_FD."""
        attr = InfoAttr(self.fd, bytearray(self._INFO.size))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        return attr.info

    @property
    def id(self) -> int:
        """The kernel id of the object."""
        return self._INFO.read_int("id", self._info())

    def pin(self, path: str) -> None:
        """BPF_OBJ_PIN the object at ``path``."""
        self.kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=self.fd))

    def close(self) -> None:
        """Close the fd."""
        self._fd.close()

    def __repr__(self) -> str:
        kind = self.type.name.removeprefix(self._TYPE_PREFIX).lower()
        try:
            return f"<{type(self).__name__} {self.name!r} id={self.id} type={kind}>"
        except (OSError, ValueError):
            return f"<{type(self).__name__} {self.name!r} type={kind} (closed)>"
