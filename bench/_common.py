"""What every benchmark shares: the closing `BENCH` line, and where the servers are.

Each benchmark compares its figure with a ceiling measured on the same machine in the same run
and prints exactly one closing line:

    BENCH <name> figure=<x> ceiling=<y> ratio=<x/y> target=<t> <PASS|FAIL>
"""

from __future__ import annotations

import os
from collections.abc import Mapping

AMQP_URL = os.environ.get("FERRY_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_DATABASE_URL = os.environ.get("FERRY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def bench_line(
    name: str,
    *,
    figure: float,
    ceiling: float,
    target: float,
    higher_is_better: bool = True,
    extra: Mapping[str, object] | None = None,
    extra_ok: bool = True,
) -> bool:
    """Print the closing line; PASS when the ratio meets `target` (>= or <=) and `extra_ok`."""
    ratio = figure / ceiling if ceiling else float("inf")
    ok = (ratio >= target if higher_is_better else ratio <= target) and extra_ok
    parts = [f"BENCH {name}", f"figure={figure:.6g}", f"ceiling={ceiling:.6g}", f"ratio={ratio:.3f}"]
    parts.append(f"target={target:g}")  # met when ratio >= target, or <= for lower-is-better figures
    parts.extend(f"{key}={value}" for key, value in (extra or {}).items())
    parts.append("PASS" if ok else "FAIL")
    print(" ".join(parts), flush=True)
    return ok
