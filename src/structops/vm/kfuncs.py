"""Kernel functions (kfuncs) callable from BPF: a registry keyed by name and BTF id.

A kfunc call is ``call`` with ``src_reg = BPF_PSEUDO_KFUNC_CALL`` (2); ``imm`` is the
BTF id of the function's ``BTF_KIND_FUNC`` in the kernel (``off = 0``) or module BTF
(``off`` = index into ``fd_array``).  The emulated kernel registers each kfunc by name
with a Python implementation ``func(run, r1..r5) -> r0`` and binds the BTF id its own BTF
gives the name (:meth:`KfuncRegistry.bind`).  ``KF_*`` flags are the verifier's business
(:class:`structops.verifier.ops.KF`); the VM only calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from structops.vm.helpers import ArgType, FuncRegistry, HelperFunc, ProgTypeSet, RetType, UnknownFunction

__all__ = ["KfuncRegistry", "KfuncSpec"]


@dataclass(frozen=True)
class KfuncSpec(ProgTypeSet):
    """One kfunc: name, implementation, signature, BTF id once bound."""

    name: str
    func: HelperFunc
    args: tuple[ArgType, ...] = ()
    ret: RetType = RetType.INTEGER
    btf_id: int | None = None
    btf_fd_idx: int = 0
    prog_types: frozenset[int] | None = None
    #: ``direct(r1, .., r5) -> r0``: the same function without the run (it does not use
    #: it); the translated code calls it straight away.
    direct: Callable[[int, int, int, int, int], int] | None = None


class KfuncRegistry(FuncRegistry[str, KfuncSpec]):
    """Kfuncs by name and by (BTF fd index, BTF id)."""

    def __init__(self, specs: Iterable[KfuncSpec] = ()) -> None:
        self._by_id: dict[tuple[int, int], str] = {}
        super().__init__(specs)

    def register(self, spec: KfuncSpec, *, replace_existing: bool = False) -> KfuncSpec:
        """Add ``spec`` (a name already present needs ``replace_existing=True``)."""
        if spec.name in self._entries and not replace_existing:
            raise ValueError(f"kfunc {spec.name} is already registered")
        old = self._entries.get(spec.name)
        if old is not None and old.btf_id is not None:
            self._by_id.pop((old.btf_fd_idx, old.btf_id), None)
        self._entries[spec.name] = spec
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
            return self._entries[name]
        except KeyError:
            raise UnknownFunction(f"kfunc {name} is not registered") from None

    def resolve(self, btf_id: int, btf_fd_idx: int = 0, prog_type: int | None = None) -> KfuncSpec:
        """The kfunc a ``call`` with ``imm=btf_id, off=btf_fd_idx`` reaches."""
        name = self._by_id.get((btf_fd_idx, btf_id))
        if name is None:
            raise UnknownFunction(f"calling kernel function btf_id {btf_id} (fd_idx {btf_fd_idx}) is not allowed")
        refusal = f"calling kernel function {name} is not allowed for program type {prog_type}"
        return self._callable_by(self._entries[name], prog_type, refusal)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)
