"""The grid on the real tiny reasoner (slow; skipped until its weights are shipped)."""

import pytest

from ponder.models import TINY_DIR


@pytest.mark.slow
@pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights not trained yet")
def test_grid_on_the_tiny_reasoner(tmp_path):
    import torch

    from ponder.eval.finalize import finalize
    from ponder.eval.grid import default_backends, run_grid
    from ponder.eval.grid_config import EvalConfig

    torch.set_num_threads(2)
    cfg = EvalConfig(tasks=["arithmetic:2"], strategies=["greedy", "majority", "pass"], budgets=[1, 2], n_problems=4,
                     out=str(tmp_path / "run"))  # fmt: skip
    rows = run_grid(cfg, default_backends())
    assert all(r["status"] == "ok" for r in rows), rows
    assert all(r["mean_generated_tokens"] > 0 and 0 <= r["accuracy"] <= 1 for r in rows)
    maj = {r["budget"]: r for r in rows if r["strategy"] == "majority"}
    passed = {r["budget"]: r for r in rows if r["strategy"] == "pass"}
    assert passed[2]["accuracy"] >= maj[2]["accuracy"] - 1e-9  # the oracle bounds every selector
    finalize(cfg.out)
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000
