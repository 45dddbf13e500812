"""Import boundaries between packages, checked in a fresh interpreter each.

* The API, the Linux backend, the loader, BTF and the bpf() ABI must not load the
  embedded kernel, the VM, the verifier or the simulator: a user of the real-kernel
  backend neither pays for nor depends on the emulator (issue 10, item 1).
* The verifier defines the interface it needs and imports nothing from
  ``structops.kernel`` (issue 10, item 2).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Modules whose import must stay away from the emulator.
LIGHT = ["structops", "structops.abi", "structops.api", "structops.linux", "structops.loader", "structops.btf"]

#: Prefixes that belong to the embedded kernel and its machinery.
HEAVY = ("structops.kernel.emulated", "structops.vm", "structops.verifier", "structops.sim")

#: Whether the verifier's independence from ``structops.kernel`` is enforced (issue 10 item 2).
VERIFIER_INDEPENDENT = True


def _loaded_after_import(module: str) -> list[str]:
    """Names in ``sys.modules`` after ``import module`` in a new interpreter."""
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _under(names: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("module", LIGHT)
def test_light_packages_do_not_load_the_emulator(module: str) -> None:
    """``import <module>`` loads nothing of the embedded kernel, VM, verifier or simulator,
    nor any ``structops.kernel`` module at all (the ABI lives in ``structops.abi``)."""
    loaded = _loaded_after_import(module)
    assert module in loaded
    assert _under(loaded, HEAVY) == []
    assert _under(loaded, ("structops.kernel",)) == []


def test_embedded_kernel_still_loads_on_demand() -> None:
    """``structops.EmulatedKernel`` is a lazy export: asking for it imports the kernel."""
    code = (
        "import sys, structops\n"
        "assert 'structops.kernel.emulated' not in sys.modules\n"
        "k = structops.EmulatedKernel()\n"
        "assert isinstance(k, structops.Kernel)\n"
        "print(type(k).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "structops.kernel.emulated"


def test_unknown_attribute_of_the_package_is_an_attribute_error() -> None:
    """The lazy ``__getattr__`` of ``structops`` refuses names it does not export."""
    import structops

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = structops.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("module", "forbidden", "enforced"),
    [("structops.verifier", ("structops.kernel",), VERIFIER_INDEPENDENT)],
)
def test_module_does_not_import(module: str, forbidden: tuple[str, ...], enforced: bool) -> None:
    """``module`` loads nothing under ``forbidden`` (the verifier knows no kernel module)."""
    loaded = _under(_loaded_after_import(module), forbidden)
    if not enforced:
        pytest.xfail(f"{module} still imports {loaded[:3]} (separation in progress)")
    assert loaded == []
