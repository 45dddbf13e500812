"""List the struct_ops spec statements (and their numbered sub-clauses) no test cites.

The statement ids and their applicability live in ``docs/spec-coverage.md`` (a table
``| id | status | note |`` with status ``applies`` or ``n/a``).  Sub-clauses are the
numbered items inside a statement of the spec (``KU2`` item 5 is ``KU2.5``); they have
their own rows and inherit the statement's status unless their row says otherwise.

A test cites an id only where a reader of the test would see it as the test's subject:
the test function's or class's name (``test_u10_...``), a docstring (module, class or
function) or a ``@pytest.mark.spec("KU2.5")`` marker.  Comments and strings inside the
code (log lines such as ``R0 invalid mem access``) do not count.

``python -m structops.devtools.spec_coverage [--root DIR]`` prints the uncovered ids and
exits 1 when there are any; ``--sync SPEC.md`` adds a row for each statement or sub-clause
of the spec that the table lacks.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cited_ids", "load_table", "main", "missing", "spec_ids", "sync_table"]

_PREFIXES = "KU|KD|KP|DM|LD|R|C|M|U|L|D|S|K|F|A|T|V|Q"
_ID = re.compile(rf"(?<![A-Za-z0-9.])((?:{_PREFIXES})\d+[a-z]?(?:\.\d+)?)(?![0-9A-Za-z])")
_NAME_ID = re.compile(rf"(?:^|_)((?:{_PREFIXES.lower()})\d+[a-z]?)(?=_|$)")
_ROW = re.compile(r"^\|\s*`?([A-Z]+\d+[a-z]?(?:\.\d+)?)`?\s*\|\s*(applies|n/a)\s*\|(.*)\|\s*$")
_STATEMENT = re.compile(rf"^((?:{_PREFIXES})\d+[a-z]?)\s")
_SUBCLAUSE = re.compile(r"^\s+(\d+)\.\s")


def load_table(path: Path) -> dict[str, tuple[str, str]]:
    """id -> (status, note) from the coverage document (sub-clauses inherit their statement)."""
    out: dict[str, tuple[str, str]] = {}
    for line in path.read_text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2), m.group(3).strip())
    return out


def spec_ids(spec: Path) -> list[str]:
    """Statement ids and ``ID.N`` sub-clause ids of the spec, in document order."""
    ids: list[str] = []
    current: str | None = None
    for line in spec.read_text().splitlines():
        m = _STATEMENT.match(line)
        if m:
            current = m.group(1)
            if current not in ids:
                ids.append(current)
            continue
        if not line.strip() or line.startswith(("#", "-", "|")):
            current = None if line.startswith(("#", "|")) else current
            continue
        s = _SUBCLAUSE.match(line)
        if s and current is not None:
            sub = f"{current}.{s.group(1)}"
            if sub not in ids:
                ids.append(sub)
    return ids


def sync_table(root: Path, spec: Path) -> list[str]:
    """Add rows for spec ids the table lacks (after their statement's row); the added ids."""
    doc = root / "docs" / "spec-coverage.md"
    table = load_table(doc)
    lines = doc.read_text().splitlines()
    added: list[str] = []
    for sid in spec_ids(spec):
        if sid in table or sid.split(".")[0].startswith(("Q", "LD")):
            continue
        parent = sid.split(".")[0]
        if parent not in table:
            continue  # statements themselves are curated by hand
        status = table[parent][0]
        # insert after the parent's last row (parent or its earlier sub-clauses)
        rows = [(i, _ROW.match(ln.strip())) for i, ln in enumerate(lines)]
        idx = max(i for i, m in rows if m is not None and m.group(1).split(".")[0] == parent)
        lines.insert(idx + 1, f"| {sid} | {status} | |")
        table[sid] = (status, "")
        added.append(sid)
    doc.write_text("\n".join(lines) + "\n")
    return added


def _marker_ids(node: ast.expr) -> Iterator[str]:
    """Ids in ``pytest.mark.spec("A1", "B2")`` (or a list of such markers)."""
    if isinstance(node, ast.List | ast.Tuple):
        for elt in node.elts:
            yield from _marker_ids(elt)
        return
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "spec"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    ):
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield arg.value


def _file_ids(tree: ast.Module) -> Iterator[str]:
    doc = ast.get_docstring(tree)
    if doc:
        yield from (m.group(1) for m in _ID.finditer(doc))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            yield from _marker_ids(node.value)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if node.name.lower().startswith("test"):
            yield from (m.group(1).upper() for m in _NAME_ID.finditer(node.name.lower()))
        doc = ast.get_docstring(node)
        if doc:
            yield from (m.group(1) for m in _ID.finditer(doc))
        for dec in node.decorator_list:
            yield from _marker_ids(dec)


def cited_ids(tests: Path) -> set[str]:
    """Every spec id a test cites in its name, a docstring or a ``spec`` marker."""
    found: set[str] = set()
    for f in sorted(tests.rglob("*.py")):
        try:
            tree = ast.parse(f.read_text(errors="replace"), str(f))
        except SyntaxError:
            continue
        found.update(_file_ids(tree))
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
    parser.add_argument("--sync", type=Path, metavar="SPEC.md", help="add rows for the spec's missing ids")
    args = parser.parse_args(argv)
    if args.sync is not None:
        for sid in sync_table(args.root, args.sync):
            print(f"added {sid}")
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
