"""Accuracy against compute: one panel per task, x = mean generated tokens per problem (log
scale), y = accuracy with its 95% bootstrap interval, one line per (model, strategy) across the
budgets. The oracle pass@k line (a correct sample exists; not a strategy anyone can run) is
dashed. matplotlib is imported here only, with the Agg backend.
Left out: FLOPs on the x-axis (summary.json has them; tokens read better across models).
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from ponder.io import atomic_write


def _series(rows: list[dict[str, Any]], task: str) -> dict[str, list[dict[str, Any]]]:
    models = {r["model"] for r in rows if r["task"] == task}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["task"] == task and r["status"] == "ok":
            label = r["strategy"] if len(models) == 1 else f"{r['model']} / {r['strategy']}"
            out[label + (" (oracle)" if r["strategy"] == "pass" else "")].append(r)
    return {k: sorted(v, key=lambda r: r["budget"]) for k, v in out.items()}


def _draw(ax: Any, rows: list[dict[str, Any]], task: str) -> None:
    from matplotlib.ticker import NullFormatter

    for label, pts in sorted(_series(rows, task).items()):
        x = [max(p["mean_generated_tokens"], 1e-3) for p in pts]
        y = [p["accuracy"] for p in pts]
        err = [[p["accuracy"] - p["ci_low"] for p in pts], [p["ci_high"] - p["accuracy"] for p in pts]]
        style = "--" if "(oracle)" in label else "-"
        ax.errorbar(x, y, yerr=err, fmt="o" + style, capsize=3, markersize=4, label=label, alpha=0.9)
        for p, xi, yi in zip(pts, x, y):
            ax.annotate(str(p["budget"]), (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks collide on short ranges
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("generated tokens per problem (log)")
    ax.set_ylabel("accuracy")
    n = next((r.get("n_problems") for r in rows if r["task"] == task and r["status"] == "ok"), "?")
    ax.set_title(f"{task} (n={n} problems; labels = budget)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def plot_tasks(rows: list[dict[str, Any]], tasks: list[str]) -> bytes:
    """PNG bytes of one figure with a panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        _draw(ax, rows, task)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_plots(rows: list[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    """plots/<task>.png for every task, plus plots/all.png with every task side by side."""
    tasks = list(dict.fromkeys(r["task"] for r in rows if r["status"] == "ok"))
    out: dict[str, Path] = {}
    for name, which in [(t, [t]) for t in tasks] + ([("all", tasks)] if len(tasks) > 1 else []):
        path = Path(out_dir) / "plots" / f"{_file_name(name)}.png"
        with atomic_write(path, "wb") as f:
            f.write(plot_tasks(rows, which))
        out[name] = path
    return out


def _file_name(task: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in task)
