"""Every ``bpf_conformance`` vector on both engines; the negative vectors are rejected.

Vectors live in ``shared/conformance/bpf_conformance`` next to the checkout (skipped with a
reason when absent).  A negative vector counts as rejected when the assembler, decoder or
loader refuses it with a clear error, or when running it does not produce what the vector
claims (its expectation is deliberately wrong).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops.errors import FormatError
from structops.vm import Program
from structops.vm.conformance import conformance_vm, load_vector, run_vector

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "conformance" / "bpf_conformance"
POSITIVE = sorted((SUITE / "tests").glob("*.data"))
NEGATIVE = sorted((SUITE / "negative").glob("*.data"))

#: Vectors that cannot be represented, with the reason (kept empty: every vector runs).
SKIPPED: dict[str, str] = {}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.skipif(not POSITIVE, reason=f"no conformance vectors under {SUITE}")
@pytest.mark.parametrize("engine", ["interp", "fast"])
@pytest.mark.parametrize("path", POSITIVE, ids=_ids(POSITIVE))
def test_vector(path: Path, engine: str) -> None:
    if path.stem in SKIPPED:
        pytest.skip(SKIPPED[path.stem])
    outcome = run_vector(load_vector(path), engine)  # type: ignore[arg-type]
    assert outcome.passed, outcome.why


def test_suite_is_complete() -> None:
    if not POSITIVE:
        pytest.skip(f"no conformance vectors under {SUITE}")
    assert len(POSITIVE) >= 300


@pytest.mark.skipif(not NEGATIVE, reason=f"no negative vectors under {SUITE}")
@pytest.mark.parametrize("path", NEGATIVE, ids=_ids(NEGATIVE))
def test_negative_vector_is_rejected(path: Path) -> None:
    try:
        vector = load_vector(path)
        insns = vector.program()
        Program.load(insns, vm=conformance_vm())
    except FormatError as exc:
        assert str(exc), "rejections must explain themselves"
        return
    # Loadable: then running it must contradict what the vector claims.
    outcome = run_vector(vector, "fast")
    assert not outcome.passed
    assert outcome.why
