"""The upstream sched_ext C schedulers open and relocate without loader errors (issue 11).

Local-only inputs: the objects built from sched-ext/scx (``scheds/c/*.bpf.c``) in
``/work/ext/scx-build`` or ``$STRUCTOPS_SCX_BUILD``; skipped when absent, never committed.
Each one opens; its struct_ops map is a ``sched_ext_ops``; every CO-RE record parses and
relocates against the embedded kernel's BTF (which has no sched_ext types yet, so those
records are poisoned, never an error) and against the scx ``vmlinux.h`` types the object
carries (each resolving to the value clang compiled in); its weak ``__ksym`` kfuncs are
externs.  ``scx_sdt`` calls ``scx_task_data()``, a plain extern function defined in a
library object it must be statically linked with: like libbpf, opening it alone fails
naming that extern.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from structops import btf as btflib
from structops.errors import ELFError
from structops.kernel.emulated import EmulatedKernel
from structops.loader import load_collection_spec
from structops.loader.core import access_path, relocate
from structops.loader.spec import ExternKind

SCX = Path(os.environ.get("STRUCTOPS_SCX_BUILD", "/work/ext/scx-build"))
OBJECTS = sorted(SCX.glob("scx_*.bpf.o")) if SCX.is_dir() else []
pytestmark = pytest.mark.skipif(not OBJECTS, reason=f"no sched_ext scheduler objects in {SCX} (local-only input)")
NEEDS_LINKING = {"scx_sdt": "scx_task_data"}


@pytest.fixture(scope="module")
def embedded_btf() -> btflib.Spec:
    return btflib.parse(EmulatedKernel().vmlinux_btf())


@pytest.mark.parametrize("path", OBJECTS, ids=[p.name.split(".")[0] for p in OBJECTS])
def test_scheduler_opens_and_relocates(path: Path, embedded_btf: btflib.Spec) -> None:
    name = path.name.split(".")[0]
    if name in NEEDS_LINKING:
        with pytest.raises(ELFError, match=f"extern '{NEEDS_LINKING[name]}'"):
            load_collection_spec(path)
        return
    spec = load_collection_spec(path)
    assert spec.btf is not None
    ops = [m for m in spec.maps.values() if m.struct_ops is not None]
    assert [m.struct_ops.type_name for m in ops if m.struct_ops] == ["sched_ext_ops"]
    assert ops[0].struct_ops is not None and ops[0].struct_ops.funcs
    kfuncs = [e for e in spec.externs.values() if e.kind is ExternKind.KFUNC]
    assert kfuncs and any(e.weak for e in kfuncs)
    relos = [(p.name, i, r) for p in spec.programs.values() for i, r in enumerate(p.core_relos)]
    assert relos
    for prog, i, r in relos:
        assert access_path(r, spec.btf)
        relocate(r, spec.btf, embedded_btf, prog=prog, number=i)  # poisoned or resolved, no error
        own = relocate(r, spec.btf, spec.btf, prog=prog, number=i)
        assert not own.poison, (prog, own)
        if own.validate and r.kind.name != "TYPE_ID_TARGET":
            assert own.target == own.local, (prog, own)
