"""Every applicable statement and sub-clause of the struct_ops spec is cited by a test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from structops.devtools import spec_coverage

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "reference" / "struct_ops-kernel-spec.md"


def test_no_applicable_spec_id_without_a_test() -> None:
    assert spec_coverage.missing(ROOT) == []
    assert spec_coverage.main(["--root", str(ROOT)]) == 0


def test_table_lists_every_statement_and_sub_clause() -> None:
    table = spec_coverage.load_table(ROOT / "docs" / "spec-coverage.md")
    statements = [i for i in table if "." not in i]
    assert len(statements) == 129  # every R*, C*, M*, U* (U0a, U0b included), L*, D*, S*, K*, F*, A*, DM*, T*, V*
    assert table["L9"][0] == "n/a" and table["U7"][0] == "applies"
    assert table["U0a"][0] == "applies" and table["U0b"][0] == "n/a"  # letter-suffixed rows parse
    for sub in ("KU2.5", "DM7.7", "R3.8", "A1.4", "F3.6"):
        assert sub in table


@pytest.mark.skipif(not SPEC.exists(), reason="shared/reference is not beside the checkout")
def test_table_has_a_row_for_every_id_of_the_spec() -> None:
    table = spec_coverage.load_table(ROOT / "docs" / "spec-coverage.md")
    ids = spec_coverage.spec_ids(SPEC)
    assert "KU2.5" in ids and "U0a" in ids
    missing = [i for i in ids if i not in table and not i.startswith(("Q", "LD"))]
    assert missing == []


def _cited(tmp_path: Path, source: str) -> set[str]:
    (tmp_path / "test_x.py").write_text(textwrap.dedent(source))
    return spec_coverage.cited_ids(tmp_path)


def test_only_names_docstrings_and_markers_cite(tmp_path: Path) -> None:
    cited = _cited(
        tmp_path,
        '''
        """Module docstring cites U7."""
        import pytest

        pytestmark = pytest.mark.spec("C3")

        def test_ku2_checks() -> None:
            """Docstring cites KU2.5 and U0a."""
            assert "R0 invalid mem access" != "F401"  # comment cites D2, string R0

        @pytest.mark.spec("F3.6", "A2")
        def test_other() -> None:
            x = "T5"  # T8
        ''',
    )
    assert cited == {"U7", "C3", "KU2", "KU2.5", "U0a", "F3.6", "A2"}


def test_sync_adds_sub_clause_rows_after_their_statement(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "spec-coverage.md").write_text(
        "| id | status | note |\n|---|---|---|\n| KU2 | applies | |\n| KD1 | n/a | why |\n"
    )
    spec = tmp_path / "spec.md"
    spec.write_text("KU2 link update, in order:\n    1. first\n    2. second\nKD1 detach\n    1. only\n")
    assert spec_coverage.sync_table(tmp_path, spec) == ["KU2.1", "KU2.2", "KD1.1"]
    table = spec_coverage.load_table(tmp_path / "docs" / "spec-coverage.md")
    assert list(table) == ["KU2", "KU2.1", "KU2.2", "KD1", "KD1.1"]
    assert table["KD1.1"][0] == "n/a"  # inherits its statement's status
