"""Put a separately run distillation-vs-RL result into a science run's results: replace the
`distill` entry of science_<model>.json with benchmarks/train_distill_vs_rl.py's output, recompute
the verdicts, rewrite science_<model>.md (and its PNGs) and, with --docs, the page's verdict table.
The other parts' cells are left as they were measured.

Run: PYTHONPATH=. python benchmarks/science_distill_update.py --science benchmarks/results/science_tiny.json
         --distill benchmarks/results/distill_vs_rl_s5.json --docs docs/science.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from science_report import update_docs, verdicts, write_report

from ponder.io import write_json


def merge(science: dict, distill: dict) -> dict:
    """The science results with `distill` replaced and the verdicts recomputed."""
    data = {**science, "distill": distill}
    data["verdicts"] = verdicts(data)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--science", type=Path, required=True, help="science_<model>.json to update")
    ap.add_argument("--distill", type=Path, required=True, help="train_distill_vs_rl.py's result JSON")
    ap.add_argument("--docs", type=Path, default=None, help="rewrite this page's verdict table")
    a = ap.parse_args()
    data = merge(json.loads(a.science.read_text()), json.loads(a.distill.read_text()))
    write_json(a.science, data)
    print("wrote", a.science, "and", write_report(data, a.science.parent))
    if a.docs:
        update_docs(a.docs, data)


if __name__ == "__main__":
    main()
