"""A self-contained report.html: the summary table, the plots (PNG embedded as data URIs), the
compute-optimal selection table, failed cells, and a few example traces. No scripts, no
external files: it opens in any browser and can be mailed as one file.
Left out: interactive tree viewers (the trees are in trees/*.jsonl as plain data).
"""

from __future__ import annotations

import base64
import html
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1150px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td.l{text-align:left}tr.err td{background:#fde8e8}img{max-width:100%;border:1px solid #ddd}
pre{background:#f7f7f7;padding:8px;white-space:pre-wrap;font-size:12px;max-height:220px;overflow:auto}
.ok{color:#17803d}.bad{color:#b42318}.note{color:#555;font-size:13px}"""

COLUMNS = [("task", "task"), ("model", "model"), ("strategy", "strategy"), ("budget", "budget"),
           ("accuracy", "accuracy"), ("ci_low", "CI low"), ("ci_high", "CI high"),
           ("mean_generated_tokens", "tokens / problem"), ("mean_flops", "FLOPs / problem"),
           ("seconds", "seconds"), ("n_problems", "problems"), ("n_seeds", "seeds")]  # fmt: skip


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e4 else f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return html.escape(str(value))


def _cell(value: Any, left: bool = False) -> str:
    return f"<td{' class=l' if left else ''}>{_fmt(value)}</td>"


def summary_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{label}</th>" for _, label in COLUMNS)
    body = []
    for r in rows:
        cls = "" if r["status"] == "ok" else " class=err"
        tds = "".join(_cell(r.get(k), left=k in ("task", "model", "strategy")) for k, _ in COLUMNS)
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _flops(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table (for READMEs and notes)."""
    cols = [
        "task",
        "model",
        "strategy",
        "budget",
        "accuracy",
        "95% CI",
        "tokens / problem",
        "FLOPs / problem",
        "seconds",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if r["status"] != "ok":
            cells = [r["task"], r["model"], r["strategy"], str(r["budget"]), "failed", r.get("error") or "", "", "", ""]
        else:
            cells = [r["task"], r["model"], r["strategy"], str(r["budget"]), f"{r['accuracy']:.3f}",
                     f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]", f"{r['mean_generated_tokens']:.1f}",
                     _flops(r["mean_flops"]), f"{r['seconds']:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def adaptive_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class=note>No compute-optimal selection: it needs a pool strategy (for the difficulty estimate) and at least two problems.</p>"
    head = "<tr><th>task</th><th>model</th><th>budget</th><th>choice per bin (hard → easy)</th><th>adaptive</th><th>best single (train)</th><th>single</th><th>diff [95% CI]</th><th>tokens adaptive / single</th><th>train / test</th></tr>"
    body = []
    for r in rows:
        diff = f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]"
        body.append(
            f"<tr>{_cell(r['task'], True)}{_cell(r['model'], True)}{_cell(r['budget'])}"
            f"{_cell(', '.join(r['choices']), True)}{_cell(r['adaptive_acc'])}{_cell(r['single'], True)}"
            f"{_cell(r['single_acc'])}<td>{diff}</td><td>{r['adaptive_tokens']:.1f} / {r['single_tokens']:.1f}</td>"
            f"<td>{r['n_train']} / {r['n_test']}</td></tr>"
        )
    note = ("<p class=note>Difficulty = the policy's agreement rate over its first pooled samples (no reference "
            "answer). Strategies are chosen per bin on a train half and judged on the test half at the same budget; "
            "the samples spent estimating difficulty are not charged to the adaptive policy.</p>")  # fmt: skip
    return f"{note}<table>{head}{''.join(body)}</table>"


def examples_html(examples: list[dict[str, Any]]) -> str:
    parts = []
    for ex in examples:
        mark = "<span class=ok>✓ correct</span>" if ex["trace_correct"] else "<span class=bad>✗ wrong</span>"
        parts.append(
            f"<h4>{html.escape(ex['task'])} · {html.escape(ex['strategy'])} @ {ex['budget']} · "
            f"{html.escape(ex['problem_id'])} · answer {html.escape(str(ex['answer']))} {mark}</h4>"
            f"<pre>{html.escape(ex.get('question', ''))}\n{html.escape(ex['trace'] or '')}</pre>"
        )
    return "".join(parts) or "<p class=note>No traces recorded.</p>"


def render(
    *,
    rows: list[dict[str, Any]],
    adaptive: list[dict[str, Any]],
    plots: dict[str, bytes],
    examples: list[dict[str, Any]],
    run: dict[str, Any],
) -> str:
    """The whole page as a string."""
    imgs = "".join(
        f"<h3>{html.escape(name)}</h3><img alt='accuracy vs tokens, {html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        for name, png in plots.items()
    )
    failed = [r for r in rows if r["status"] != "ok"]
    errors = "".join(
        f"<li>{_fmt(r['task'])} · {_fmt(r['strategy'])} @ {r['budget']}: {_fmt(r.get('error'))}</li>" for r in failed
    )
    cfg = run.get("config", {})
    machine = run.get("machine", {})
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>ponder eval report</title><style>{CSS}</style></head><body>
<h1>ponder eval report</h1>
<p class=note>Tasks {_fmt(", ".join(cfg.get("tasks", [])))}; models {_fmt(", ".join(cfg.get("models", [])))};
temperature {_fmt(cfg.get("temperature"))}; seeds {_fmt(cfg.get("seeds"))}. Machine: {_fmt(machine.get("platform"))},
{_fmt(machine.get("cpus"))} CPUs, load average at start {_fmt(machine.get("loadavg"))}.
Pool strategies (majority, best_of_n, weighted, pass) are expected values over subsets of one sample pool per problem;
"pass" is the oracle pass@k (some sample is right), a ceiling rather than a strategy. Intervals: 95% bootstrap over problems and seeds.</p>
<h2>Accuracy against generated tokens</h2>{imgs or "<p class=note>No finished cells to plot.</p>"}
<h2>Summary</h2>{summary_table(rows)}
{f"<h2>Failed cells</h2><ul>{errors}</ul>" if failed else ""}
<h2>Compute-optimal selection by difficulty (Snell et al. 2024)</h2>{adaptive_table(adaptive)}
<h2>Example traces</h2>{examples_html(examples)}
</body></html>
"""
