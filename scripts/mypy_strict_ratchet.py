"""`make lint`: mypy --strict over the package, as a ratchet (docs/contributing.md, "Checks").

The files that do not pass yet are listed in scripts/mypy-strict-pending.txt. Every other file must pass,
so new code is strict from its first line; and a listed file that passes must leave the list, so the list
only shrinks.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PENDING = ROOT / "scripts" / "mypy-strict-pending.txt"


def main() -> int:
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "kedro_af_ci"], cwd=ROOT,
                            capture_output=True, text=True)
    failing = set(re.findall(r"^(kedro_af_ci/\S+?\.py):\d+: error", result.stdout, flags=re.M))
    pending = {line.strip() for line in PENDING.read_text().splitlines() if line.strip() and not line.startswith("#")}
    new = sorted(failing - pending)
    cleaned = sorted(pending - failing)
    for path in new:
        print(f"{path}: not strict (mypy --strict); fix it, it is not on {PENDING.name}")
        print("\n".join(line for line in result.stdout.splitlines() if line.startswith(path)))
    for path in cleaned:
        print(f"{path}: now passes mypy --strict: remove it from {PENDING.relative_to(ROOT)}")
    print(f"mypy --strict: {len(failing)} file(s) pending, {len(new)} new, {len(cleaned)} cleaned")
    return 1 if new or cleaned else 0


if __name__ == "__main__":
    sys.exit(main())
