"""``make bench``: run every benchmark in ``bench/`` with its defaults, one after another, then print
one table of every ratio each recorded (``bench/_results.py``) beside its goal."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._results import RESULTS_ENV, read, table

here = Path(__file__).parent
failed = []
with tempfile.TemporaryDirectory() as folder:
    results = Path(folder) / "results.jsonl"
    env = {**os.environ, RESULTS_ENV: str(results)}
    for module in sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")):
        print(f"== bench.{module}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{module}"], cwd=here.parent, env=env).returncode != 0:
            failed.append(module)
    print("\n== every ratio against its goal")
    print(table(read(results)))
sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
