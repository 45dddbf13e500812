"""``Collection``: open an object, inspect or change it, load it on a kernel.

Open phase (no kernel): ``Collection.open(path)`` gives the deterministic
:class:`~structops.loader.CollectionSpec` as ``.spec``; programs can be disabled
(``disable_program``) and maps disabled (``disable_map``), struct_ops shadow values
changed (``set_struct_ops_prog`` / ``shadow``).  ``load(kernel)`` creates everything
(libbpf rules, :mod:`structops.loader.load`) and fills ``maps`` and ``programs``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TypeVar

from structops.abi.consts import ProgType
from structops.abi.protocol import Kernel
from structops.api.map import Map
from structops.api.program import Program
from structops.loader import CollectionSpec, load_collection_spec
from structops.loader.load import LoadedObjects, load_objects

__all__ = ["Collection"]

V = TypeVar("V")


class _ByName(dict[str, V]):
    """A name -> object dict whose KeyError lists the names there are."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self._what = what

    def __missing__(self, name: str) -> V:
        have = ", ".join(sorted(self)) or "none"
        raise KeyError(f"no {self._what} {name!r} (there are: {have})")


class Collection:
    """A BPF object: open -> (modify) -> load -> use -> close."""

    def __init__(self, spec: CollectionSpec) -> None:
        self.spec = spec
        self.kernel: Kernel | None = None
        self.maps: dict[str, Map] = _ByName("map")
        self.programs: dict[str, Program] = _ByName("program")
        self._disabled_maps: set[str] = set()
        self._disabled_progs: set[str] = set()
        self._loaded: LoadedObjects | None = None

    @classmethod
    def open(cls, source: str | Path | bytes) -> Collection:
        """Read an ELF object (path or bytes) into an unloaded collection."""
        return cls(load_collection_spec(source))

    # -- open-phase changes -------------------------------------------------------------
    def disable_program(self, name: str) -> None:
        """Do not load program ``name`` (``bpf_program__set_autoload(false)``)."""
        if name not in self.spec.programs:
            raise KeyError(name)
        self._disabled_progs.add(name)

    def disable_map(self, name: str) -> None:
        """Do not create map ``name`` (``bpf_map__set_autocreate(false)``)."""
        self.spec.map_by_name(name)
        self._disabled_maps.add(name)

    def set_struct_ops_prog(self, map_name: str, member: str, program: str | None) -> None:
        """Point struct_ops ``member`` of ``map_name`` at ``program`` (None clears it).

        Like writing the skeleton's shadow value (B.4): a compile-time program that no
        map references any more is not loaded (its autoload goes false).
        """
        so = self.spec.map_by_name(map_name).struct_ops
        if so is None:
            raise TypeError(f"map {map_name} is not a struct_ops map")
        if program is not None:
            if program not in self.spec.programs:
                raise KeyError(program)
            if self.spec.programs[program].prog_type != ProgType.BPF_PROG_TYPE_STRUCT_OPS:
                raise TypeError(f"program {program} is not a struct_ops program")
        old = so.funcs.pop(member, None)
        if program is not None:
            so.funcs[member] = program
            self._disabled_progs.discard(program)
        still_used = any(
            old in m.struct_ops.funcs.values() for m in self.spec.maps.values() if m.struct_ops is not None
        )
        if old is not None and old != program and not still_used:
            self._disabled_progs.add(old)

    # -- global variables (skeleton-style, typed from BTF) ---------------------------------
    def get_global(self, name: str) -> int | float | bytes:
        """Global variable ``name``: its initial value before load, the map's value after.

        Integers, enums and bools are ``int``, char arrays ``bytes`` up to the NUL, other
        types raw ``bytes`` (:mod:`structops.loader.globals`).
        """
        from structops.loader import globals as gv

        if self.kernel is None:
            return gv.read_initial(self.spec, name)
        var = gv.global_vars(self.spec)[name]
        raw = self.maps[var.map_name].lookup(0)
        return gv.decode(var, raw[var.offset : var.offset + var.size])

    def set_global(self, name: str, value: int | float | bytes | str) -> None:
        """Set global variable ``name``: before load its initial value (``.rodata`` config
        included), after load in the map (a frozen ``.rodata`` refuses with EPERM)."""
        from structops.loader import globals as gv

        if self.kernel is None:
            gv.write_initial(self.spec, name, value)
            return
        var = gv.global_vars(self.spec)[name]
        m = self.maps[var.map_name]
        raw = bytearray(m.lookup(0))
        raw[var.offset : var.offset + var.size] = gv.encode(var, value)
        m.update(0, bytes(raw))

    # -- load --------------------------------------------------------------------------------
    def load(self, kernel: Kernel | None = None, *, log_level: int = 0) -> Collection:
        """Create the maps and programs on ``kernel`` (a new embedded kernel by default)."""
        if self.kernel is not None:
            raise RuntimeError("collection is already loaded")
        if kernel is None:
            from structops.kernel.emulated import EmulatedKernel

            kernel = EmulatedKernel()
        loaded = load_objects(
            self.spec,
            kernel,
            log_level=log_level,
            skip_maps=frozenset(self._disabled_maps),
            skip_programs=frozenset(self._disabled_progs),
        )
        self.kernel = kernel
        self._loaded = loaded
        for name, fd in loaded.maps.items():
            self.maps[name] = Map(
                kernel, fd, self.spec.map_by_name(name), loaded.struct_ops_values.get(name), self.spec.btf
            )
        for name, fd in loaded.programs.items():
            self.programs[name] = Program(kernel, fd, self.spec.programs[name])
        return self

    def close(self) -> None:
        """Close every fd: struct_ops links unregister; legacy registrations stay until
        their map is deleted, as in Linux."""
        for prog in self.programs.values():
            prog.close()
        for m in self.maps.values():
            m.close()
        if self._loaded is not None and self.kernel is not None:
            for fd in [self._loaded.btf_fd, *self._loaded.extra_fds]:
                if fd:
                    with contextlib.suppress(OSError):
                        self.kernel.close(fd)
            self._loaded = None

    def __repr__(self) -> str:
        where = "not loaded" if self.kernel is None else f"loaded on {getattr(self.kernel, 'name', 'a kernel')}"
        return (
            f"<Collection {self.spec.object_name!r} {where}: maps {sorted(self.spec.maps)}, "
            f"programs {sorted(self.spec.programs)}>"
        )

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
