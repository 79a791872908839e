"""Evaluation: metrics from one sample pool (pass@k, maj@k, weighted vote@k, best-of-k) with
bootstrap intervals over problems and seeds, a resumable grid of tasks x models x strategies x
budgets, plots and a self-contained HTML report, compute-optimal strategy selection by
difficulty, and run comparison. Entry points:

    from ponder.eval import pass_at_k, maj_at_k           # pure metrics
    from ponder.eval.grid import run_grid, default_backends
    from ponder.eval.finalize import finalize              # summary, plots, report.html
    from ponder.eval.compare import compare_runs
    ponder eval ... | ponder eval report RUN | ponder eval compare A B

See docs/eval.md. Heavy modules (numpy, matplotlib, the search stack) load only when used.
"""

from ponder.eval.estimators import Sample, accuracy, best_of_k, maj_at_k, pass_at_k, weighted_vote_at_k

__all__ = ["Sample", "accuracy", "best_of_k", "maj_at_k", "pass_at_k", "weighted_vote_at_k"]
