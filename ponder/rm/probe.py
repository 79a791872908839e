"""A PRM on a frozen backbone, trained as a linear probe: the backbone's last hidden state at
every step boundary is computed once (no gradient through the backbone), then the scoring head
is fitted to those features by full-batch Adam on the weighted BCE of rm/targets.py, with the
held-out traces' loss checked every `val_every` epochs, the best head kept and `patience`
stopping a plateau (the same options as the fine-tuning loop of rm/train.py).

It is what `freeze_backbone: true` trains: one forward pass per trace instead of one forward and
backward pass per trace per epoch, so 20k traces fit a shared CPU, and it measures how much the
policy's own features already say about a step's validity. The result is an ordinary
reward-model folder in run.out (the backbone unchanged, the fitted head, the aggregation chosen
on the held-out problems), loaded by PRMScorer like any PRM.

Left out: resuming an interrupted fit (it takes seconds once features exist), features of other
layers, nonlinear heads, and DDP.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import torch

from ponder.rm.heldout import choose_aggregation
from ponder.rm.labels import LabeledTrace
from ponder.rm.quality import step_auroc
from ponder.rm.targets import class_weights, position_weights, targets_of

if TYPE_CHECKING:
    from ponder.rm.model import RewardModel
    from ponder.rm.train import RMTrainConfig, TrainLog

log = logging.getLogger(__name__)


@torch.no_grad()
def boundary_features(rm: RewardModel, traces: list[LabeledTrace], batch_size: int = 64) -> list[torch.Tensor]:
    """Each trace's features at its step boundaries: (S_b, H) per trace, float32 on the CPU."""
    rm.eval()
    out: list[torch.Tensor] = []
    for i in range(0, len(traces), batch_size):
        chunk = traces[i : i + batch_size]
        enc = [rm.encode(t.problem.question, t.steps, where=f"trace {t.id!r}") for t in chunk]
        out += list(torch.split(rm.features(enc).float().cpu(), [len(e.boundaries) for e in enc]))
    return out


def stack(feats: list[torch.Tensor], traces: list[LabeledTrace], cfg: RMTrainConfig, weights=(1.0, 1.0)):
    """(X (N, H), y (N,), w (N,)) over the labelled positions of these traces."""
    rows, ys, ws = [], [], []
    for f, t in zip(feats, traces):
        tg = targets_of(t, cfg.kind, cfg.hard_labels, cfg.outcome_weight)
        keep = [i for i, v in enumerate(tg) if v is not None]
        rows.append(f[keep])
        ys += [tg[i] for i in keep]
        ws += [position_weights(tg, weights)[i] for i in keep]
    return torch.cat(rows), torch.tensor(ys), torch.tensor(ws)


def _loss(head: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    bce = torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(-1), y, reduction="none")
    return (bce * w).sum() / w.sum().clamp(min=1e-12)


def fit_head(head: torch.nn.Linear, train: tuple, val: tuple | None, cfg: RMTrainConfig) -> dict:
    """Full-batch Adam on the head for run.steps epochs; with `val`, the head with the lowest
    held-out loss (checked every val_every epochs) is kept, and `patience` checks without
    improvement stop the fit. Returns {"losses", "val", "best_step"}."""
    opt = torch.optim.Adam(head.parameters(), lr=cfg.head_lr)
    losses, vals, best = [], [], (float("inf"), 0, None)
    every = max(cfg.val_every, 1)
    for step in range(1, cfg.run.steps + 1):
        opt.zero_grad()
        loss = _loss(head, *train)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if val is None or step % every:
            continue
        with torch.no_grad():
            v = _loss(head, *val).item()
        vals.append({"step": step, "val_loss": v})
        if v < best[0]:
            best = (v, step, {k: t.clone() for k, t in head.state_dict().items()})
        elif cfg.patience and step - best[1] >= cfg.patience * every:
            break
    if best[2] is not None and cfg.keep_best:
        head.load_state_dict(best[2])
    return {"losses": losses, "val": vals, "best_step": best[1] if best[2] is not None and cfg.keep_best else None}


def train_probe(rm: RewardModel, train: list[LabeledTrace], val: list[LabeledTrace], cfg: RMTrainConfig) -> TrainLog:
    """Fit `rm`'s head on its frozen backbone's features; saves rm to run.out (see module doc)."""
    from pathlib import Path

    from ponder.io import write_json
    from ponder.rm.train import TrainLog

    t0 = time.perf_counter()
    torch.manual_seed(cfg.run.seed)
    weights = class_weights([targets_of(t, cfg.kind, cfg.hard_labels, cfg.outcome_weight) for t in train])
    weights = weights if cfg.balance else (1.0, 1.0)
    f_train = boundary_features(rm, train, cfg.batch_size)
    f_val = boundary_features(rm, val, cfg.batch_size) if val else []
    log.info("features of %d + %d traces in %.0f s", len(train), len(val), time.perf_counter() - t0)
    fit = fit_head(rm.head, stack(f_train, train, cfg, weights), stack(f_val, val, cfg, weights) if val else None, cfg)
    summary: dict = {"probe": True, "best_step": fit["best_step"], "val": fit["val"]}
    if val and rm.kind == "prm":
        with torch.no_grad():
            probs = [torch.sigmoid(rm.head(f).squeeze(-1)).tolist() for f in f_val]
        agg, acc = choose_aggregation(probs, val)
        rm.agg = agg if cfg.agg == "auto" else cfg.agg
        summary.update(auroc=step_auroc(probs, [t.labels for t in val]), bon=acc, agg=rm.agg)
    rm.save(cfg.run.out)
    write_json(Path(cfg.run.out) / "probe.json", summary)
    rm.eval()
    return TrainLog(losses=fit["losses"], val=fit["val"], seconds=time.perf_counter() - t0, best_step=fit["best_step"])
