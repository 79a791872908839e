"""What `ponder solve` writes: one record per problem in the shared schema (ponder/records.py)
and the panels and summary table it prints (rich). Left out: the JSON/HTML files (the caller
writes them from these records)."""

from __future__ import annotations

from typing import Any

from ponder.types import Problem, SearchResult


def records(
    problems: list[Problem],
    results: list[SearchResult],
    scores: list,
    prompts: list[str | None],
    fmt: str | None = None,
) -> list[dict[str, Any]]:
    """One record per problem in the shared schema (ponder/records.py); the model's own answer,
    the verdict and the strategy ride in `meta`."""
    from ponder.answers import answer_in_style
    from ponder.prompts import get_prompt
    from ponder.records import make_record

    style = get_prompt(fmt).answer if fmt else None
    out = []
    for p, r, s, prompt in zip(problems, results, scores, prompts):
        meta = {
            **r.meta,
            "prompt_format": fmt,
            "parsed": answer_in_style(r.response, style, p.task) if style and r.response else r.answer,
            "verdict": None if s is None else s.reason,
            "strategy": r.strategy,
        }
        out.append(
            make_record(
                p,
                prompt=prompt,
                response=r.response,
                correct=None if s is None else s.correct,
                cost=r.cost.to_dict(),
                meta=meta,
            )  # fmt: skip
        )
    return out


def show(recs: list[dict[str, Any]], quiet: bool) -> None:
    """Each record as a panel (question, trace, answer, verdict, cost) unless quiet, then the summary table."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    console = Console()
    if not quiet:
        for rec in recs:
            mark = {
                True: "[green]✓ correct[/]",
                False: f"[red]✗ {rec['meta']['verdict'] or 'wrong'}[/]",
                None: "[dim]no reference[/]",
            }[rec["correct"]]
            c, m = rec["cost"], rec["meta"]
            body = (
                f"[bold]{rec['question']}[/]\n\n{rec['response']}\n\n[bold]answer:[/] {m['parsed']}   {mark}"
                f"\n[dim]{c['generated_tokens']} generated + {c['prompt_tokens']} prompt tokens, "
                f"{c['gen_calls']} generator / {c['scorer_calls']} scorer calls, {_flops(c['flops'])} FLOPs, {c['seconds']:.2f} s[/]"
            )
            console.print(Panel(body, title=f"{rec['problem_id']} · {rec['meta']['strategy']}", expand=False))
    table = Table("problems", "correct", "gen tokens / problem", "FLOPs / problem", "seconds")
    n = len(recs)
    known = [r for r in recs if r["correct"] is not None]
    acc = f"{sum(r['correct'] for r in known)}/{len(known)}" if known else "-"
    table.add_row(
        str(n),
        acc,
        f"{sum(r['cost']['generated_tokens'] for r in recs) / n:.0f}",
        _flops(None if any(r["cost"]["flops"] is None for r in recs) else sum(r["cost"]["flops"] for r in recs) / n),
        f"{recs[0]['meta']['batch_seconds']:.2f}",
    )
    console.print(table)


def _flops(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"
