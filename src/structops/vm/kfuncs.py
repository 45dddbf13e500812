"""Kernel functions (kfuncs) callable from BPF: a registry keyed by name and BTF id.

A kfunc call is ``call`` with ``src_reg = BPF_PSEUDO_KFUNC_CALL`` (2); ``imm`` is the
BTF id of the function's ``BTF_KIND_FUNC`` in the kernel (``off = 0``) or module BTF
(``off`` = index into ``fd_array``).  The emulated kernel registers each kfunc by name
with a Python implementation ``func(run, r1..r5) -> r0`` and binds the BTF id its own BTF
gives the name (:meth:`KfuncRegistry.bind`).  Flags mirror the kernel's ``KF_*`` set
annotations and are informational for the verifier.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace

from structops.vm.helpers import ArgType, HelperFunc, RetType, UnknownFunction

__all__ = ["KfuncFlags", "KfuncRegistry", "KfuncSpec"]


class KfuncFlags(enum.IntFlag):
    """The kernel's ``KF_*`` kfunc flags (``include/linux/btf.h``)."""

    NONE = 0
    ACQUIRE = 1 << 0
    RELEASE = 1 << 1
    RET_NULL = 1 << 2
    TRUSTED_ARGS = 1 << 4
    SLEEPABLE = 1 << 5
    DESTRUCTIVE = 1 << 6
    RCU = 1 << 7


@dataclass(frozen=True)
class KfuncSpec:
    """One kfunc: name, implementation, signature, flags, BTF id once bound."""

    name: str
    func: HelperFunc
    args: tuple[ArgType, ...] = ()
    ret: RetType = RetType.INTEGER
    flags: KfuncFlags = KfuncFlags.NONE
    btf_id: int | None = None
    btf_fd_idx: int = 0
    prog_types: frozenset[int] | None = None

    def allowed_for(self, prog_type: int | None) -> bool:
        """Whether programs of ``prog_type`` may call this kfunc."""
        return self.prog_types is None or prog_type is None or prog_type in self.prog_types


class KfuncRegistry:
    """Kfuncs by name and by (BTF fd index, BTF id)."""

    def __init__(self, specs: Iterable[KfuncSpec] = ()) -> None:
        self._by_name: dict[str, KfuncSpec] = {}
        self._by_id: dict[tuple[int, int], str] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: KfuncSpec, *, replace_existing: bool = False) -> KfuncSpec:
        """Add ``spec`` (a name already present needs ``replace_existing=True``)."""
        if spec.name in self._by_name and not replace_existing:
            raise ValueError(f"kfunc {spec.name} is already registered")
        old = self._by_name.get(spec.name)
        if old is not None and old.btf_id is not None:
            self._by_id.pop((old.btf_fd_idx, old.btf_id), None)
        self._by_name[spec.name] = spec
        if spec.btf_id is not None:
            self._by_id[(spec.btf_fd_idx, spec.btf_id)] = spec.name
        return spec

    def bind(self, name: str, btf_id: int, btf_fd_idx: int = 0) -> KfuncSpec:
        """Record the BTF id under which programs call ``name``."""
        spec = self.by_name(name)
        return self.register(replace(spec, btf_id=btf_id, btf_fd_idx=btf_fd_idx), replace_existing=True)

    def by_name(self, name: str) -> KfuncSpec:
        """The kfunc called ``name`` (:class:`UnknownFunction` if absent)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownFunction(f"kfunc {name} is not registered") from None

    def resolve(self, btf_id: int, btf_fd_idx: int = 0, prog_type: int | None = None) -> KfuncSpec:
        """The kfunc a ``call`` with ``imm=btf_id, off=btf_fd_idx`` reaches."""
        name = self._by_id.get((btf_fd_idx, btf_id))
        if name is None:
            raise UnknownFunction(f"calling kernel function btf_id {btf_id} (fd_idx {btf_fd_idx}) is not allowed")
        spec = self._by_name[name]
        if not spec.allowed_for(prog_type):
            raise UnknownFunction(f"calling kernel function {name} is not allowed for program type {prog_type}")
        return spec

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._by_name)

    def copy(self) -> KfuncRegistry:
        """An independent registry with the same entries."""
        return KfuncRegistry(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
