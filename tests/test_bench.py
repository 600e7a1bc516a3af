"""The benches under bench/ still import: a bench whose helper moved breaks only when someone next measures.

One fresh interpreter imports every bench script as the bench folder's own command line would (nothing is run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench"


def test_every_bench_script_imports() -> None:
    scripts = sorted(path.stem for path in BENCH.glob("*.py"))
    assert len(scripts) > 10
    imports = "; ".join(f"import {name}" for name in scripts)
    done = subprocess.run(
        [sys.executable, "-c", imports], cwd=BENCH, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
