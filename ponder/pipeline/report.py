"""The pipeline's story in two files: summary.json (every stage's config, seconds, result and
held-out accuracies) and a self-contained report.html (eval/report.py's style): the accuracy
table (one row per model: the start, then each stage), accuracy across the stages per task, and
every training stage's curves from its metrics.jsonl (PNG embedded, no scripts).

Left out: interactive plots; curves of data stages (they have none — their data card is linked).
"""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from pathlib import Path
from typing import Any

from ponder.config import to_dict
from ponder.eval.report import CSS
from ponder.io import atomic_write, read_log, write_json

CURVE_KEYS = ("reward_mean", "loss", "eval/accuracy", "response_len", "kl", "grad_norm")  # as the trainers log them
MAX_PANELS = 4


def table_rows(states: list[dict]) -> list[dict[str, Any]]:
    """One row per (evaluated model, task): stage, type, task, accuracy and interval, seconds."""
    rows = []
    for st in states:
        for task, r in st.get("eval", {}).items():
            rows.append({"stage": st["name"], "type": st["type"], "task": task, **r,
                         "seconds": st.get("seconds", 0.0), "steps": st.get("result", {}).get("steps")})  # fmt: skip
    return rows


def read_curves(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{key: [(step, value)]} of the CURVE_KEYS a stage logged in its metrics.jsonl."""
    out: dict[str, list[tuple[int, float]]] = {}
    for rec in read_log(folder / "metrics.jsonl"):
        for key in CURVE_KEYS:
            if isinstance(rec.get(key), (int, float)) and isinstance(rec.get("step"), int):
                out.setdefault(key, []).append((rec["step"], float(rec[key])))
    varying = {k: v for k, v in out.items() if len({p[1] for p in v}) > 1}  # a flat kl=0 tells nothing
    return dict(list(varying.items())[:MAX_PANELS])


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_png(name: str, curves: dict[str, list[tuple[int, float]]]) -> bytes:
    """One panel per logged key, x = optimiser step."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
    for ax, (key, pts) in zip(axes[0], curves.items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None)
        ax.set_title(f"{name}: {key}")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    return _png(fig)


def story_png(rows: list[dict]) -> bytes:
    """Held-out accuracy (95% interval) after each stage, one line per task."""
    plt = _pyplot()
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(stages)), 3.5))
    for task in dict.fromkeys(r["task"] for r in rows):
        pts = [r for r in rows if r["task"] == task]
        x = [stages.index(r["stage"]) for r in pts]
        y = [r["accuracy"] for r in pts]
        err = [[r["accuracy"] - r["ci_low"] for r in pts], [r["ci_high"] - r["accuracy"] for r in pts]]
        ax.errorbar(x, y, yerr=err, fmt="o-", capsize=3, label=task)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("held-out greedy accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _img(title: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"


def _table(rows: list[dict]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("stage", "type", "task", "accuracy", "95% CI", "n", "tokens / answer",
                                             "stage seconds", "steps"))  # fmt: skip
    body = "".join(
        f"<tr><td class=l>{html.escape(r['stage'])}</td><td class=l>{html.escape(r['type'])}</td>"
        f"<td class=l>{html.escape(r['task'])}</td><td>{r['accuracy']:.3f}</td>"
        f"<td>[{r['ci_low']:.3f}, {r['ci_high']:.3f}]</td><td>{r['n']}</td><td>{r['mean_tokens']:.1f}</td>"
        f"<td>{r['seconds']:.0f}</td><td>{'' if r['steps'] is None else r['steps']}</td></tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _made(st: dict) -> str:
    """What a stage produced, in a few words."""
    r = st.get("result") or {}
    if st["type"] == "data":
        return f"kept {r.get('kept')} of {r.get('rollouts')} rollouts ({r.get('kept_problems')} of {r.get('problems')} problems)"
    if "records" in r:
        return f"{r['records']} records"
    resumed = f" (resumed at {r['start_step']})" if r.get("start_step") else ""
    return f"{r.get('steps')} steps{resumed}"


def _stages(states: list[dict]) -> str:
    head = "<tr><th>stage</th><th>type</th><th>made</th><th>wall s</th><th>CPU s</th><th>evaluated</th></tr>"
    body = "".join(
        f"<tr><td class=l>{html.escape(st['name'])}</td><td class=l>{html.escape(st['type'])}</td>"
        f"<td class=l>{html.escape(_made(st))}</td><td>{st.get('seconds', 0.0):.0f}</td>"
        f"<td>{st.get('cpu_seconds', 0.0):.0f}</td><td class=l>{'yes' if 'eval' in st else 'no'}</td></tr>"
        for st in states[1:]
    )
    return f"<h2>Stages</h2><table>{head}{body}</table>"


def render(cfg, states: list[dict], out: Path) -> str:
    rows = table_rows(states)
    imgs = [_img("accuracy after each stage", story_png(rows))] if rows else []
    for st in states[1:]:
        curves = read_curves(out / st["name"])
        if curves:
            imgs.append(_img(f"{st['name']} ({st['type']})", curves_png(st["name"], curves)))
    total = sum(st.get("seconds", 0.0) + st.get("eval_seconds", 0.0) for st in states)
    stages = " → ".join(f"{st['name']} ({st['type']})" for st in states[1:])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>ponder pipeline report</title><style>{CSS}</style></head><body>
<h1>ponder pipeline: {html.escape(out.name)}</h1>
<p class=note>From {html.escape(cfg.model)}: {html.escape(stages)}. Held-out greedy accuracy on {cfg.eval.n} problems per task
(seed {cfg.eval.seed}, {cfg.eval.max_tokens} tokens), Wilson 95% intervals; {total:.0f} s of stages and evaluations in all.</p>
<h2>Accuracy</h2>{_table(rows)}{_stages(states)}
<h2>Curves</h2>{"".join(imgs)}
</body></html>
"""


def write_report(cfg, states: list[dict], out: Path) -> dict:
    """OUT/summary.json and OUT/report.html; returns the summary."""
    summary = {
        "config": to_dict(cfg),
        "stages": states,
        "table": table_rows(states),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": list(os.getloadavg())},
    }
    write_json(out / "summary.json", summary)
    with atomic_write(out / "report.html") as f:
        f.write(render(cfg, states, out))
    return summary
