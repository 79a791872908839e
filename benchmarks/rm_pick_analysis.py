"""Why does a scorer's best-of-16 pick land where it does? Replays rm_search.py's best-of-16 on
the same cached pool (--gen-cache of rm_search.py, so nothing is generated) with one scorer,
records every sample's score, and reports per task: the pick's accuracy against the mean
sample accuracy, the within-problem AUROC (P(a right sample scores above a wrong one of the
same problem), ties half, over problems with both), and a few wrong picks beside the
best-scored samples after them.

    PYTHONPATH=. python benchmarks/rm_pick_analysis.py arithmetic runs/rm/prm_arithmetic --pool pool.jsonl
    PYTHONPATH=. python benchmarks/rm_pick_analysis.py countdown confidence --pool pool.jsonl
"""

from __future__ import annotations

import argparse
import statistics as st
from collections import defaultdict

import torch
from rm_bo16 import Recorder
from rm_common import LEVELS
from rm_search import SEARCH_SEED

from ponder.gen import load_generator
from ponder.gen.cache import CachedGenerator
from ponder.rm.scorers import PRMScorer
from ponder.search import run_search
from ponder.search.engine import build_scorer
from ponder.tasks import make_problems
from ponder.verify import verify


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task")
    ap.add_argument("scorer", help="a PRM folder, or confidence")
    ap.add_argument("--pool", required=True, help="rm_search.py's --gen-cache file")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--model", default="tiny")
    args = ap.parse_args()
    torch.set_num_threads(1)
    problems = make_problems(args.task, args.n, level=LEVELS.get(args.task), seed=SEARCH_SEED)
    gen = CachedGenerator(load_generator(args.model), path=args.pool)
    inner = build_scorer(args.scorer, gen)[0] if args.scorer == "confidence" else PRMScorer.load(args.scorer)
    rec = Recorder(inner)
    run_search("best_of_n", problems, gen, budget=16, scorer=rec, seed=SEARCH_SEED)
    by_id = {p.id: p for p in problems}
    ok = verify([by_id[i] for i, _, _ in rec.log], [r for _, r, _ in rec.log])
    groups = defaultdict(list)
    for (i, r, s), v in zip(rec.log, ok):
        groups[i].append((s, v.correct, r))
    picks, auc = [], []
    for items in groups.values():
        best = max(range(len(items)), key=lambda j: (items[j][0], -j))
        picks.append(items[best])
        right, wrong = [s for s, c, _ in items if c], [s for s, c, _ in items if not c]
        if right and wrong:
            auc.append(sum((a > b) + 0.5 * (a == b) for a in right for b in wrong) / (len(right) * len(wrong)))
    print(f"generated {gen.misses} (0: all from the pool); aggregation {getattr(inner, 'agg', None)}")
    print(f"pick accuracy {st.mean(c for _, c, _ in picks):.2f}, mean sample accuracy "
          f"{st.mean(c for it in groups.values() for _, c, _ in it):.2f}")  # fmt: skip
    print(f"within-problem AUROC {st.mean(auc):.3f} over {len(auc)} problems with right and wrong samples")
    for (s, c, r), items in list(zip(picks, groups.values()))[:30]:
        if not c:
            print(f"WRONG PICK {s:.3f} {r[:150]!r}")
            for s2, c2, r2 in sorted(items, key=lambda x: -x[0])[1:3]:
                print(f"      {s2:.3f} {'right' if c2 else 'wrong'} {r2[:150]!r}")


if __name__ == "__main__":
    main()
