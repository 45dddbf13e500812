"""List the struct_ops spec statements that no test cites.

The statement ids and their applicability live in ``docs/spec-coverage.md`` (a table
``| id | status | note |`` with status ``applies`` or ``n/a``); every test file under
``tests/`` is scanned for the ids it names.  Exit status 1 when an applicable id has
no test, 0 otherwise.  Run ``python -m structops.devtools.spec_coverage [--root DIR]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["cited_ids", "load_table", "main", "missing"]

_ID = re.compile(r"(?<![A-Za-z0-9])((?:KU|KD|KP|DM|LD|R|C|M|U|L|D|S|K|F|A|T|V|Q)\d+)(?:[a-z])?(?![0-9])")
_ROW = re.compile(r"^\|\s*`?([A-Z]+\d+)`?\s*\|\s*(applies|n/a)\s*\|(.*)\|\s*$")


def load_table(path: Path) -> dict[str, tuple[str, str]]:
    """id -> (status, note) from the coverage document."""
    out: dict[str, tuple[str, str]] = {}
    for line in path.read_text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2), m.group(3).strip())
    return out


def cited_ids(tests: Path) -> set[str]:
    """Every spec id named in a test file (names, docstrings, comments)."""
    found: set[str] = set()
    for f in tests.rglob("*.py"):
        for m in _ID.finditer(f.read_text(errors="replace")):
            found.add(m.group(1))
    return found


def missing(root: Path) -> list[str]:
    """Applicable ids with no citing test, in document order."""
    table = load_table(root / "docs" / "spec-coverage.md")
    cited = cited_ids(root / "tests")
    return [i for i, (status, _) in table.items() if status == "applies" and i not in cited]


def main(argv: list[str] | None = None) -> int:
    """Print the uncovered ids; 1 if any."""
    parser = argparse.ArgumentParser(prog="spec_coverage")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    table = load_table(args.root / "docs" / "spec-coverage.md")
    if not table:
        print("no spec table found in docs/spec-coverage.md", file=sys.stderr)
        return 2
    gaps = missing(args.root)
    applicable = sum(1 for s, _ in table.values() if s == "applies")
    print(f"applicable ids: {applicable}; covered: {applicable - len(gaps)}; missing: {len(gaps)}")
    for i in gaps:
        print(f"  {i}: {table[i][1]}")
    return 1 if gaps else 0


if __name__ == "__main__":
    raise SystemExit(main())
