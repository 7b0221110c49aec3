"""``make bench``: run every benchmark in ``bench/`` with its defaults, one after another."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
failed = []
for module in sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")):
    print(f"== bench.{module}", flush=True)
    if subprocess.run([sys.executable, "-m", f"bench.{module}"], cwd=here.parent).returncode != 0:
        failed.append(module)
sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
