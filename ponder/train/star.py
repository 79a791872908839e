"""STaR, the Self-Taught Reasoner (Zelikman et al. 2022): rejection-sampling fine-tuning plus
rationalisation. Each round samples K traces per problem and keeps the verified ones (as RFT);
for problems the model failed on every sample, it asks again with the reference answer given as
a hint in the question, keeps a rationale if it now reaches the answer, and stores it under the
question *without* the hint, so the model learns to produce it unaided.

Left out: restarting from the base model each round (the paper's choice; here training
continues), the paper's few-shot prompting (the tiny reasoner is trained to the R1 format).
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.train.distill import sample_verified
from ponder.train.rft import RFTConfig, round_data, run_rounds
from ponder.train.session import Session


@dataclass
class STaRConfig(RFTConfig):
    """STaR: RFT plus rationalisation of failed problems.

    rationalize: retry failed problems with the answer as a hint
    hint_k: samples per failed problem with the answer as a hint
    """

    rationalize: bool = True
    hint_k: int = 4  # samples per failed problem with the answer as a hint


def star_round_data(sess: Session, cfg: STaRConfig, problems, rnd: int) -> tuple[list[dict], dict]:
    recs, stats = round_data(sess, cfg, problems, rnd)
    solved = {r["id"] for r in recs}
    failed = [p for p in problems if p.id not in solved]
    rationales: list[dict] = []
    if cfg.rationalize and failed:
        rationales, _ = sample_verified(
            sess.gen,
            failed,
            sess.accuracy_fn,
            k=cfg.hint_k,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            seed=cfg.run.seed * 7919 + rnd + 1,
            hint=True,
            keep_per_problem=1,
        )
    stats.update({"failed": len(failed), "rationalized": len(rationales)})
    return recs + rationales, stats


def train_star(cfg: STaRConfig, **kwargs) -> dict:
    return run_rounds(cfg, star_round_data, "star", **kwargs)
