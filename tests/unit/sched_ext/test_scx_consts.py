"""sched_ext constants come from the kernel's BTF enums (SX-D1, SX-K1, SX-E1), one copy each."""

from __future__ import annotations

import pathlib
import re

import structops
from structops import btf as btflib
from structops.kernel import kbtf
from structops.kernel.subsys.sched_ext import consts as C


def test_sx_d1_k1_e1_values_are_the_vmlinux_enumerators() -> None:
    """The documented values (SX-D1 DSQ ids, SX-K1 kf masks, SX-E1 exit kinds) as BTF has them."""
    assert (C.SCX_DSQ_GLOBAL, C.SCX_DSQ_LOCAL, C.SCX_DSQ_LOCAL_ON) == ((1 << 63) | 1, (1 << 63) | 2, 3 << 62)
    assert (C.SCX_SLICE_DFL, C.SCX_SLICE_INF, C.SCX_OPS_NAME_LEN) == (20_000_000, (1 << 64) - 1, 128)
    assert (C.SCX_ENQ_PREEMPT, C.SCX_ENQ_INTERNAL_MASK, C.SCX_OPS_ALL_FLAGS) == (1 << 32, 0xFF << 56, 0x1007F)
    assert C.op_mask("select_cpu") == C.SCX_KF_ENQUEUE | C.SCX_KF_SELECT_CPU == 12
    assert C.op_mask("init") == C.SCX_KF_UNLOCKED == 0 and C.op_mask("tick") == C.SCX_KF_REST == 16
    assert C.EXIT_KIND_NAMES[C.SCX_EXIT_ERROR_BPF] == "SCX_EXIT_ERROR_BPF" and len(C.EXIT_KIND_NAMES) == 9
    spec = btflib.parse(kbtf.vmlinux_btf_bytes())
    enq: btflib.Type = spec.find("scx_enq_flags")
    assert isinstance(enq, btflib.Enum | btflib.Enum64)
    assert all(getattr(C, v.name) == v.value for v in enq.values)


def test_every_constant_the_sources_name_exists() -> None:
    """The enumerators are module attributes at run time only: a misspelt ``C.SCX_*`` in any
    source file would pass the type checker, so check every one named under src/."""
    root = pathlib.Path(structops.__file__).parent
    used = {m for p in root.rglob("*.py") for m in re.findall(r"\bC\.(SCX_\w+)", p.read_text())}
    assert used and {name for name in used if not hasattr(C, name)} == set()
