"""Held-out evaluation during reward-model training: the training objective on the held-out
traces and, for a PRM, the step AUROC against the labels and best-of-n accuracy of every
step-score aggregation over the held-out problems (each problem's traces are its samples), all
from the same forward pass; with counterfactual twins in training, also the share of held-out
twins scored below their original (`twin_acc`, one more forward pass over the twins).

The aggregation that picks best on held-out problems is what the PRM's scorer uses when none is
asked for (`RMTrainConfig.agg: auto`; rm/model.py saves it in rm_config.json), so the choice is
made on held-out training data, never on the problems a benchmark reports.

Left out: a per-task aggregation (one is chosen for all tasks in the data).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import torch

from ponder.rm.labels import LabeledTrace
from ponder.rm.quality import pick_aggregation, step_auroc
from ponder.search.aggregate import AGGREGATIONS

if TYPE_CHECKING:
    from ponder.rm.model import RewardModel
    from ponder.rm.train import RMTrainConfig


def by_problem(traces: list[LabeledTrace]) -> list[list[int]]:
    """Indices of the traces of each problem (by problem id, in first-seen order)."""
    out: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(traces):
        out[t.problem.id].append(i)
    return list(out.values())


def choose_aggregation(probs: list[list[float]], traces: list[LabeledTrace]) -> tuple[str | None, dict]:
    """(the aggregation with the best best-of-n accuracy, each one's accuracy) over problems with
    two or more verified samples; (None, {}) when there are none."""
    groups = [g for g in by_problem(traces) if len(g) > 1 and all(traces[i].outcome is not None for i in g)]
    if not groups:
        return None, {}
    agg, acc = pick_aggregation(
        [[probs[i] for i in g] for g in groups], [[traces[i].outcome >= 1 for i in g] for g in groups]
    )
    return agg, acc


@torch.no_grad()
def evaluate(rm: RewardModel, traces: list[LabeledTrace], cfg: RMTrainConfig, weights=(1.0, 1.0)) -> dict:
    """{"val_loss", and for a PRM "auroc", "bon_<agg>" per aggregation and "agg" (the best)}; a PRM's
    `agg` attribute is set to the best one when cfg.agg is "auto", else to cfg.agg."""
    from ponder.rm.train import batch_logits, labelled, loss_of

    rm.eval()
    n, total = cfg.batch_size, labelled(traces, cfg, weights)
    loss, probs = 0.0, []
    for i in range(0, len(traces), n):
        logits = batch_logits(rm, traces[i : i + n])  # the head: the training objective
        loss += loss_of(logits, traces[i : i + n], cfg, weights, total).item()
        if rm.readout != "head":  # the aggregation is chosen on what the scorer will read
            logits = batch_logits(rm, traces[i : i + n], readout=None)
        probs += [torch.sigmoid(x.float()).tolist() for x in logits]
    rm.train()
    out: dict = {"val_loss": loss}
    if rm.kind != "prm":
        return out
    agg, acc = choose_aggregation(probs, traces)
    out["auroc"] = step_auroc(probs, [t.labels for t in traces])
    out.update({f"bon_{a}": v for a, v in acc.items()})
    if cfg.twins:
        out.update(twin_accuracy(rm, traces, probs, n))
    rm.agg = agg if cfg.agg == "auto" else cfg.agg
    if rm.agg is not None:
        out["agg"] = rm.agg
    return out


@torch.no_grad()
def twin_accuracy(rm: RewardModel, traces: list[LabeledTrace], probs: list[list[float]], batch: int) -> dict:
    """{"twin_acc": share of held-out twins (one per trace, rm/counterfactual.py) whose original
    scores above them at the perturbed step, ties half; "twins": how many}: the within-problem
    skill the pairwise loss trains, measured on held-out problems. probs: (S_b,) per trace."""
    from ponder.rm.counterfactual import add_twins
    from ponder.rm.train import batch_logits

    rm.eval()
    where = {t.id: b for b, t in enumerate(traces)}
    twins = [tw for ts in add_twins(traces, 1, seed=0).values() for tw in ts]
    wins = []
    for i in range(0, len(twins), batch):
        chunk = twins[i : i + batch]
        for tw, x in zip(chunk, batch_logits(rm, chunk, readout=None)):
            i = tw.meta["twin_step"]
            a, b = probs[where[tw.meta["twin_of"]]][i], torch.sigmoid(x.float())[i].item()
            wins.append(float(a > b) + 0.5 * float(a == b))
    rm.train()
    return {"twin_acc": sum(wins) / len(wins), "twins": len(wins)} if wins else {}


def check_agg(name: str) -> None:
    if name != "auto" and name not in AGGREGATIONS:
        from ponder.types import PonderError

        raise PonderError(f"agg must be auto or one of {', '.join(AGGREGATIONS)}, got {name!r}")
