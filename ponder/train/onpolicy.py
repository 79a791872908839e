"""On-policy verdict data for base training (`onpolicy:` in `ponder train base`): every `every`
steps the live weights answer `pool` fresh problems of the listed tasks (a share `greedy` greedily,
the rest sampled at `temperature`), and tasks/corrections.py rewrites each response into a trace
whose checks are right — the model's own wrong lines judged `no`, its slips untrained, then the
hit. A share `share` of every later batch is drawn from that pool (with replacement) until the
next refresh. The refresh also measures the model: how often the verdict lines it wrote were
right, and how often it solved the problem (logged, and returned in the step's metrics).

Left out: torchrun (each rank would sample its own pool; refused), tasks without a correction.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from ponder.types import PonderError, SamplingParams

log = logging.getLogger(__name__)


@dataclass
class OnPolicyConfig:
    """The model's own responses, corrected, in the base-training mix.

    share: share of each batch drawn from the on-policy pool (0: off)
    every: refresh the pool from the live weights every this many steps
    pool: problems answered per refresh
    tasks: task -> share of the pool's problems (tasks with a correction)
    temperature: sampling temperature of the non-greedy share
    greedy: share of the pool's problems answered greedily
    max_tokens: token limit of each response
    batch: prompts per generate call
    """

    share: float = 0.0
    every: int = 200
    pool: int = 512
    tasks: dict[str, float] = field(default_factory=lambda: {"countdown": 0.75, "arithmetic": 0.25})
    temperature: float = 0.7
    greedy: float = 0.5
    max_tokens: int = 300
    batch: int = 64

    def check(self, world: int) -> None:
        from ponder.tasks.corrections import CORRECTIONS

        if not 0 <= self.share <= 1:
            raise PonderError(f"onpolicy.share must be in [0, 1], got {self.share}")
        if self.share and (self.every < 1 or self.pool < 1):
            raise PonderError(f"onpolicy.every and onpolicy.pool must be >= 1, got {self.every}, {self.pool}")
        unknown = [t for t in self.tasks if t not in CORRECTIONS]
        if self.share and unknown:
            raise PonderError(f"onpolicy.tasks {unknown} have no correction; known: {sorted(CORRECTIONS)}")
        if self.share and world > 1:
            raise PonderError("onpolicy data is not supported under torchrun (each rank would sample its own pool)")


def refresh_pool(gen, cfg: OnPolicyConfig, rng: random.Random, level_weights) -> tuple[list, dict]:
    """(pool, stats): cfg.pool problems answered by `gen` and corrected into (question, pieces).
    `level_weights(n_levels)` gives the curriculum's current weights over a task's train levels."""
    from ponder.tasks import get_task
    from ponder.tasks.corrections import CORRECTIONS
    from ponder.tasks.countdown import verdict_lines

    names = list(cfg.tasks)
    drawn = []
    for _ in range(cfg.pool):
        task = get_task(rng.choices(names, weights=[cfg.tasks[k] for k in names])[0])
        level = rng.choices(task.train_levels, weights=level_weights(len(task.train_levels)))[0]
        drawn.append((task, task.sample(rng, level), rng.random() < cfg.greedy))
    pool, verdicts, solved = [], [], 0
    for greedy in (True, False):
        part = [(t, p) for t, p, g in drawn if g == greedy]
        params = SamplingParams(
            temperature=0.0 if greedy else cfg.temperature, max_tokens=cfg.max_tokens, seed=rng.randrange(2**31)
        )
        for i in range(0, len(part), cfg.batch):
            chunk = part[i : i + cfg.batch]
            seeded = params.for_prompts(len(part), range(i, i + len(chunk)))  # chunks draw apart
            outs = gen.generate([gen.render(p.question) for _, p in chunk], seeded)
            for (task, p), out in zip(chunk, outs):
                text = out[0].text
                solved += bool(task.check(p, text).correct)
                if task.name == "countdown":
                    verdicts += verdict_lines(p, text)
                pieces = CORRECTIONS[task.name](p, text)
                if pieces:
                    pool.append((p.question, [list(x) for x in pieces]))
    stats = {
        "onpolicy_examples": len(pool),
        "onpolicy_solved": round(solved / max(len(drawn), 1), 4),
        "onpolicy_verdict_right": round(sum(verdicts) / max(len(verdicts), 1), 4),
        "onpolicy_verdict_lines": len(verdicts),
    }
    log.info("on-policy pool refreshed: %s", stats)
    return pool, stats


def mix_in(pairs: list, pool: list, share: float, rng: random.Random) -> list:
    """Replace a share of `pairs` (at random positions) by examples drawn from `pool`."""
    if not pool or share <= 0:
        return pairs
    n = round(share * len(pairs))
    for i in rng.sample(range(len(pairs)), n):
        pairs[i] = tuple(rng.choice(pool))
    return pairs
