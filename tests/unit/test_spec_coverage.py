"""Every applicable statement of the struct_ops spec is cited by at least one test."""

from __future__ import annotations

from pathlib import Path

from structops.devtools import spec_coverage

ROOT = Path(__file__).resolve().parents[2]


def test_no_applicable_spec_id_without_a_test() -> None:
    assert spec_coverage.missing(ROOT) == []
    assert spec_coverage.main(["--root", str(ROOT)]) == 0


def test_table_lists_every_numbered_statement() -> None:
    table = spec_coverage.load_table(ROOT / "docs" / "spec-coverage.md")
    assert len(table) == 127  # every R*, C*, M*, U*, L*, D*, S*, K*, F*, A*, DM*, T*, V* statement
    assert table["L9"][0] == "n/a" and table["U7"][0] == "applies"
