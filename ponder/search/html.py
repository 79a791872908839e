"""Draw search trees as one self-contained HTML page (no network, no external files): each
problem's tree as nested, foldable nodes showing the step text, score, value, visits and prior;
the chosen path is highlighted and unfolded, the rest folded. Buttons unfold or fold everything.
Left out: graphical layout (a tree of a few thousand nodes stays readable as nested lists)."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from ponder.io import atomic_write
from ponder.types import Node, SearchResult

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
details{margin-left:1.2em;border-left:1px solid #ccc;padding-left:.4em}
summary{cursor:pointer;padding:1px 0}
.t{font-family:ui-monospace,monospace;white-space:pre-wrap;background:#f6f6f6;padding:0 .3em}
.m{color:#666;font-size:.85em;margin-left:.5em}
.chosen>summary .t{background:#d9f7d9;font-weight:600}
.term>summary:after{content:" ■";color:#888}
.problem{border:1px solid #ddd;border-radius:6px;padding:.6em;margin:1em 0}
"""
_SCRIPT = "function all(o){document.querySelectorAll('details').forEach(d=>d.open=o)}"


def _meta(n: Node) -> str:
    parts = []
    if n.score is not None:
        parts.append(f"score {n.score:.3g}")
    if n.value:
        parts.append(f"value {n.value:.3g}")
    if n.visits:
        parts.append(f"visits {n.visits}")
    if n.prior is not None:
        parts.append(f"prior {n.prior:.3g}")
    parts += [
        f"{k} {v}" for k, v in n.meta.items() if k in ("answer", "rollout", "completion", "forced", "round", "tokens")
    ]
    return " · ".join(parts)


def _node_html(n: Node, kids: dict[int | None, list[Node]]) -> str:
    cls = " ".join(c for c, on in (("chosen", n.chosen), ("term", n.terminal)) if on)
    text = html.escape(n.text.replace("\n", "⏎\n")) or "∅"
    inner = "".join(_node_html(k, kids) for k in kids[n.id])
    opened = " open" if n.chosen else ""
    return (
        f'<details class="{cls}"{opened}><summary><span class="t">{text}</span>'
        f'<span class="m">#{n.id} {html.escape(_meta(n))}</span></summary>{inner}</details>'
    )


def tree_html(nodes: list[Node]) -> str:
    kids: dict[int | None, list[Node]] = defaultdict(list)
    for n in nodes:
        kids[n.parent].append(n)
    return "".join(_node_html(root, kids) for root in kids[None])


def page_html(results: list[SearchResult], title: str = "ponder search trees") -> str:
    body = []
    for r in results:
        head = (
            f"<h3>{html.escape(r.problem_id)} — {html.escape(r.strategy)}: answer "
            f"<code>{html.escape(str(r.answer))}</code></h3><p class='m'>{len(r.tree)} nodes · "
            f"{r.cost.generated_tokens} generated tokens · {r.cost.gen_calls} generator calls</p>"
        )
        body.append(f'<div class="problem">{head}{tree_html(r.tree)}</div>')
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body><h2>{html.escape(title)}</h2>"
        "<button onclick='all(true)'>unfold all</button> <button onclick='all(false)'>fold all</button>"
        f"{''.join(body)}</body></html>\n"
    )


def write_tree_html(path: str | Path, results: list[SearchResult], title: str = "ponder search trees") -> None:
    with atomic_write(path) as f:
        f.write(page_html(results, title))
