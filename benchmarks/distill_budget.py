"""Equal compute for distillation and RL (benchmarks/train_distill_vs_rl.py): model FLOPs of each
arm read from its metrics.jsonl, the distill arm's step count for a FLOP budget, a generator
wrapper that counts the teacher's tokens, and per-problem greedy results on held-out problems
(for the paired comparison of the two students).

FLOPs follow the usual dense-transformer count: 2·N per token forward, 4·N backward (N = the
model's parameters; attention's own FLOPs are left out: ~10% more at these ~150-token sequences
for the d=96 student, on both arms alike).
- SFT step: 6·N · (prompt + response + EOS tokens of its batch).
- GRPO step (epochs=1, no KL, no reference model): generation 2·N · (sampled tokens + each
  prompt once — its KV cache is shared by the group's G samples), then the update 6·N · (prompt +
  response tokens of all P·G sequences). A group with zero reward variance costs the same.
- Teacher traces (charged to the distill arm): 2·N_teacher · (sampled tokens + prompts once).
Left out: the held-out evaluations (same for both arms), optimizer-step FLOPs.
"""

from __future__ import annotations

from typing import Any

from ponder.stats import wilson


def sft_flops(rows: list[dict[str, Any]], n_params: int) -> float:
    """Model FLOPs of an SFT run from its metrics rows (tokens_per_s · step_s = tokens of a step)."""
    return sum(6.0 * n_params * r["tokens_per_s"] * r["step_s"] for r in rows if "tokens_per_s" in r)


def grpo_flops(rows: list[dict[str, Any]], n_params: int, group_size: int) -> float:
    """Model FLOPs of a GRPO run (epochs=1) from its metrics rows: tokens_per_s · step_s is the
    sampled tokens plus the sequences' tokens; the sequences minus the sampled tokens are the
    prompts, G times each."""
    total = 0.0
    for r in rows:
        if "gen_tokens" not in r:
            continue
        gen = r["gen_tokens"]
        seq = r["tokens_per_s"] * r["step_s"] - gen
        total += 2.0 * n_params * (gen + max(seq - gen, 0.0) / group_size) + 6.0 * n_params * seq
    return total


def sft_steps_for(budget: float, n_params: int, tokens_per_step: float) -> int:
    """SFT steps that spend `budget` FLOPs at `tokens_per_step` tokens a step (at least 1)."""
    return max(1, round(budget / (6.0 * n_params * tokens_per_step)))


def nonzero_variance_share(rows: list[dict[str, Any]]) -> float:
    """Share of sampled GRPO groups whose rewards were not all equal, over the run."""
    groups = sum(r.get("sampled_groups", 0) for r in rows)
    zero = sum(r.get("zero_var_frac", 0.0) * r.get("sampled_groups", 0) for r in rows)
    return 1.0 - zero / groups if groups else 0.0


def flags_summary(flags: list[bool], tokens: int) -> dict[str, Any]:
    """{"accuracy", "ci_low", "ci_high", "n", "mean_tokens", "flags"} of per-problem 0/1 results."""
    k, n = sum(flags), len(flags)
    lo, hi = wilson(k, n)
    return {"accuracy": k / max(n, 1), "ci_low": lo, "ci_high": hi, "n": n, "mean_tokens": tokens / max(n, 1),
            "flags": "".join("1" if f else "0" for f in flags)}  # fmt: skip


class Counted:
    """A generator that counts the tokens it samples and the prompts it prefills (for FLOPs)."""

    def __init__(self, gen):
        self.gen, self.name, self.n_params = gen, gen.name, gen.n_params
        self.tokens = 0

    def render(self, question: str) -> str:
        return self.gen.render(question)

    def generate(self, prompts, params):
        out = self.gen.generate(prompts, params)
        self.tokens += sum(len(c.token_ids) for g in out for c in g) + sum(g[0].prompt_tokens or 0 for g in out)
        return out


def held_out_flags(gen, problems, max_tokens: int, batch: int = 64) -> dict:
    """Greedy answers to `problems` -> flags_summary (accuracy, Wilson CI, per-problem flags)."""
    from ponder.train.rewards import accuracy
    from ponder.types import SamplingParams

    params = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens)
    texts, tokens = [], 0
    for i in range(0, len(problems), batch):
        outs = gen.generate([gen.render(p.question) for p in problems[i : i + batch]], params)
        texts += [o[0].text for o in outs]
        tokens += sum(len(o[0].token_ids) for o in outs)
    return flags_summary([bool(c) for c in accuracy(problems, texts)], tokens)
