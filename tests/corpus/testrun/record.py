"""Record what Linux does for every case of ``testrun_cases.py`` into ``linux-6.18.json``.

Run from the repository root as root on the recorded kernel:
``python3 tests/corpus/testrun/record.py``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testrun_cases import CASES, HERE, load_programs, run_case


def main() -> None:
    from structops.linux import LinuxKernel

    kernel = LinuxKernel()
    colls, fds = load_programs(kernel)
    try:
        results = {case.name: run_case(kernel, fds[case.prog], case) for case in CASES}
    finally:
        for coll in colls:
            coll.close()
    doc = {"kernel": platform.release(), "results": results}
    (HERE / "linux-6.18.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(results)} cases on {doc['kernel']}")


if __name__ == "__main__":
    main()
