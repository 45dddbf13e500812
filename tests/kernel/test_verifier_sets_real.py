"""Real-kernel twin of ``tests/unit/verifier/test_verifier_sets.py``: the facts, re-checked on Linux.

Each fact of :mod:`verifier_sets_facts` was measured on Linux 6.18; this test loads the
same program through :class:`~structops.linux.LinuxKernel` and asserts the same errno and
log phrase (skipped without root, CAP_BPF and kernel BTF, or on a kernel lacking a type).
"""

from __future__ import annotations

import pytest
from realkernel import VMLINUX_BTF, real_kernel_skip_reason
from verifier_sets_facts import FACTS, Fact, expected_log, run_fact

from structops import btf

_REASON = real_kernel_skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture(scope="module")
def spec() -> btf.Spec:
    return btf.parse(VMLINUX_BTF.read_bytes())


@pytest.mark.parametrize("fact", [f for f in FACTS if not f.embedded_only], ids=lambda f: f.name)
def test_linux_fact_on_real_kernel(spec: btf.Spec, fact: Fact) -> None:
    from structops.linux import LinuxKernel

    k = LinuxKernel()
    try:
        code, log, fd = run_fact(k, spec, fact)
    except KeyError as exc:
        pytest.skip(f"this kernel's BTF lacks {exc}")
    if fd >= 0:
        k.close(fd)
    assert code == fact.errno, log
    assert expected_log(fact, spec) in log
