"""The data card of a `ponder data` run: data_card.json (machine-readable) and data_card.md
(for people) saying where the data came from, how many rollouts each filter removed, in order,
and how the kept problems split by difficulty. Left out: licence and provenance of user-given
problem files (the card names the file; its licence is the user's to state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ponder.io import atomic_write, write_json


def build_card(source: dict[str, Any], rollouts: list[dict], kept: list[dict], counts: list[dict]) -> dict[str, Any]:
    rates = {r["problem_id"]: r["meta"]["pass_rate"] for r in rollouts}
    labels: dict[str, int] = {}
    for r in {r["problem_id"]: r for r in kept}.values():
        labels[r["meta"]["difficulty"]] = labels.get(r["meta"]["difficulty"], 0) + 1
    return {
        "source": source,
        "problems": len(rates),
        "rollouts": len(rollouts),
        "mean_pass_rate": sum(rates.values()) / max(len(rates), 1),
        "filters": counts,
        "kept": len(kept),
        "kept_problems": len({r["problem_id"] for r in kept}),
        "kept_by_difficulty": dict(sorted(labels.items())),
    }


def card_markdown(card: dict[str, Any]) -> str:
    src = card["source"]
    lines = [
        "# Data card",
        "",
        f"{card['rollouts']} rollouts of {card['problems']} problems ({src.get('task') or src.get('problems')}), "
        f"{src['k']} per problem from `{src['model']}` with strategy `{src['strategy']}`; "
        f"mean pass rate {card['mean_pass_rate']:.3f}. Kept: {card['kept']} records of {card['kept_problems']} problems.",
        "",
        "| # | filter | before | removed | after | problems after |",
        "|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(card["filters"], 1):
        lines.append(f"| {i} | {c['filter']} | {c['before']} | {c['removed']} | {c['after']} | {c['problems_after']} |")
    lines += ["", "Kept problems by difficulty (from pass rates): "
              + (", ".join(f"{k} {v}" for k, v in card["kept_by_difficulty"].items()) or "none"), ""]  # fmt: skip
    return "\n".join(lines)


def write_card(out: Path, card: dict[str, Any]) -> None:
    write_json(out / "data_card.json", card)
    with atomic_write(out / "data_card.md") as f:
        f.write(card_markdown(card))
