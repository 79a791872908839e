""" "GRPO" from verifiable rewards (Shao et al. 2024, DeepSeekMath; the R1-Zero recipe of
DeepSeek-AI 2025), with Dr. GRPO and DAPO as switch presets (see presets.py).

Each step reads top to bottom: take problems at the data position, sample G responses each from
the live policy (rollout.py), score them with a reward from verify/, compute group advantages
(advantages.py), turn responses into token sequences, and take `epochs` clipped policy-gradient
steps (policy_update.py). A checkpoint holds everything needed to resume exactly; metrics go to
metrics.jsonl with a health check; held-out greedy accuracy is measured before and after.

Rollouts come from `sess.gen`: the live policy on the hf backend, or a vLLM engine kept in step
with it (`model.sampler: vllm`); then the sampler's logprobs weigh the loss by truncated
importance sampling (`rollout.tis`, on by default when the sampler is not the trainer).

Under torchrun each rank samples prompts_per_step / W problems (its share of the stream), the
advantages stay per group (a group never spans ranks), and the loss normalisers are global
(hardware.py), so W ranks take the step one process would on the same problems.

`algo.process_coef > 0` adds PRM process advantages per token (process.py); a learned PRM / ORM
can be the reward itself (`--reward=prm --reward-options.path=FOLDER`, rm/reward.py).

Left out: value models (PPO), asynchronous rollouts, sequence packing of rollouts.
Responses are re-tokenised from text (see batch.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ponder.config import to_dict
from ponder.gen.groups import Groups
from ponder.train import policy_update
from ponder.train.advantages import ADVANTAGES, nanstd
from ponder.train.batch import encode_example
from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
from ponder.train.data import DataConfig, ProblemStream, load_problems
from ponder.train.evaluate import EvalConfig, held_out_problems
from ponder.train.objective import Correction
from ponder.train.presets import resolve_switches
from ponder.train.process import with_process
from ponder.train.rewards import compute_rewards, reward_name
from ponder.train.rollout import Rollouts, RolloutSpec, collect
from ponder.train.session import Session
from ponder.types import PonderError
from ponder.verify import remembered_verdicts
from ponder.verify.rewards import get_reward

log = logging.getLogger(__name__)


@dataclass
class RolloutConfig:
    """How each GRPO step samples.

    prompts_per_step: problems per step
    group_size: samples per problem (the group GRPO normalises over)
    temperature: sampling temperature
    max_tokens: token limit of each sample
    stop: extra stop strings
    micro_batch: sequences per forward/backward (length-sorted)
    tis: truncated importance sampling (null: on when the sampler is not the trainer, vllm)
    tis_cap: the truncation C in min(pi_trainer / pi_sampler, C)
    tis_mask: none | token | geo: also drop tokens / whole responses whose ratio is out of bounds
    tis_mask_low: lower bound of the mask (null: 0.5 for token, 0.99 for geo)
    tis_mask_high: upper bound of the mask (null: 2.0 for token, 1.01 for geo)
    """

    prompts_per_step: int = 16
    group_size: int = 8
    temperature: float = 1.0
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    micro_batch: int = 16  # sequences per forward/backward (length-sorted: small ones cut padding on CPU)
    tis: bool | None = None  # truncated importance sampling; None: on when the sampler is not the trainer (vllm)
    tis_cap: float = 2.0  # the truncation C in min(pi_trainer / pi_sampler, C)
    tis_mask: Literal["none", "token", "geo"] = "none"  # also drop tokens / sequences outside the bounds
    tis_mask_low: float | None = None  # None: 0.5 (token) or 0.99 (geo)
    tis_mask_high: float | None = None  # None: 2.0 (token) or 1.01 (geo)

    def correction(self, on: bool) -> Correction | None:
        if not on:
            return None
        lo, hi = (0.99, 1.01) if self.tis_mask == "geo" else (0.5, 2.0)
        low = lo if self.tis_mask_low is None else self.tis_mask_low
        high = hi if self.tis_mask_high is None else self.tis_mask_high
        return Correction(cap=self.tis_cap, mask=self.tis_mask, low=low, high=high)


@dataclass
class GRPOConfig:
    """GRPO and its variants; what a recipe reproduces lives in its header comment.

    preset: grpo | dr_grpo | dapo | gspo | cispo | rloo | reinforce_pp | opd (presets.py); algo.* overrides its switches
    algo: the preset's switches to change, e.g. --algo.kl_coef=0 (names: GRPOSwitches, presets.py)
    reward: a verify/ reward name or path/to/file.py:function
    reward_options: options of the named reward, e.g. --reward=prm --reward-options.path=runs/prm
    prm: a trained PRM folder for process advantages (algo.process_coef > 0)
    teacher: on-policy distillation's teacher (algo.distill_coef > 0): a model with the student's tokenizer
    log_rewards: extra rewards logged as reward/NAME
    curriculum: none | easy_to_hard | weighted, by pass rate measured at the start
    curriculum_k: samples per problem to measure pass rates
    """

    preset: str = "grpo"
    algo: dict[str, Any] = field(default_factory=dict)  # switches changed from the preset (presets.py)
    reward: str = "accuracy"  # a verify/ reward name or path/to/file.py:function
    reward_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"path": "runs/prm"} for reward prm
    prm: str = ""  # a trained PRM folder: process advantages (algo.process_coef > 0)
    teacher: str = ""  # on-policy distillation (algo.distill_coef > 0): a model with the student's tokenizer
    log_rewards: list[str] = field(default_factory=list)  # extra rewards logged as reward/NAME
    curriculum: Literal["none", "easy_to_hard", "weighted"] = "none"  # by pass rate measured at the start
    curriculum_k: int = 4  # samples per problem to measure pass rates
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        sw = resolve_switches(self.preset, self.algo)  # unknown preset or switch fails at load time
        if sw.distill_coef > 0 and not self.teacher:
            raise PonderError(f"preset {self.preset!r} distils from a teacher: set teacher=MODEL (a name or folder)")
        if sw.process_coef > 0 and not self.prm:
            raise PonderError("algo.process_coef > 0 scores steps with a PRM: set prm=FOLDER (`ponder train prm`)")


def build_sequences(tokenizer, ro: Rollouts, *, mask_truncated: bool):
    """-> (seqs (N,), weights (N,), sampler (N,)) in problem-major order, N = P * G. sampler[i] is
    the response's logprobs from the rollout engine when its re-tokenised ids are the sampled ids
    (else None: no importance weight for that response)."""
    seqs, weights, sampler = [], [], []
    for prompt, group in zip(ro.prompts, ro.completions):
        for c in group:
            seq = encode_example(tokenizer, prompt, c.text, eos=c.finish_reason == "eos")
            seqs.append(seq)
            weights.append(0.0 if mask_truncated and c.finish_reason == "length" else 1.0)
            same = c.logprobs is not None and seq.ids[seq.start :] == list(c.token_ids)
            sampler.append(list(c.logprobs) if same else None)
    return seqs, torch.tensor(weights), sampler


def rollout_metrics(ro: Rollouts, sess: Session, cfg: GRPOConfig) -> dict[str, float]:
    groups = Groups(ro.problems, ro.completions)
    flat_p, comps = groups.flat_owners, groups.flat
    texts = [c.text for c in comps]
    m = {
        "reward_mean": float(ro.raw_rewards.nanmean()),
        "reward_std": float(nanstd(ro.raw_rewards.flatten())),
        "reward_none_frac": float(ro.raw_rewards.isnan().float().mean()),
        "accuracy": sum(map(bool, sess.accuracy_fn(flat_p, texts))) / len(texts),
        "response_len": sum(len(c.token_ids) for c in comps) / len(comps),
        "truncation_rate": sum(c.finish_reason == "length" for c in comps) / len(comps),
        **ro.stats,
    }
    for name in cfg.log_rewards:
        vals = [v for v in compute_rewards(sess.resolve(name), name, flat_p, texts) if v is not None]
        m[f"reward/{name}"] = sum(vals) / len(vals) if vals else float("nan")
    return m


def advantages(sess: Session, cfg: GRPOConfig, sw, rewards: torch.Tensor, seqs, weights) -> torch.Tensor:
    """rewards (P, G) -> advantages (P*G,) by the switched estimator; with a KL in the reward,
    each response's reward first loses kl_coef * its summed per-token KL to the reference."""
    if sw.kl_coef > 0 and sw.kl_in_reward:
        pad = sess.tokenizer.pad_token_id
        zeros = torch.zeros(len(seqs))
        mbs = policy_update.make_micro_batches(
            seqs, zeros, weights, micro_batch=cfg.rollout.micro_batch, pad_id=pad, device=sess.dist.device
        )
        kl = policy_update.sequence_kl(sess.model, sess.ref, mbs, len(seqs), sw.kl_estimator)  # (P*G,)
        rewards = rewards - sw.kl_coef * kl.view_as(rewards)
    return ADVANTAGES.get(sw.advantage)(rewards, scale=sw.adv_scale).flatten()


def grpo_step(sess: Session, cfg: GRPOConfig, sw, step: int, process=None) -> dict[str, float]:
    """One step; reward and accuracy share one verdict per response. `process`: the PRM reward (process.py)."""
    with remembered_verdicts():
        return _grpo_step(sess, cfg, sw, step, process)


def _grpo_step(sess: Session, cfg: GRPOConfig, sw, step: int, process=None) -> dict[str, float]:
    t0 = time.perf_counter()
    spec = RolloutSpec(
        prompts_per_step=sess.dist.split(cfg.rollout.prompts_per_step, "rollout.prompts_per_step"),
        group_size=cfg.rollout.group_size,
        temperature=cfg.rollout.temperature,
        max_tokens=cfg.rollout.max_tokens,
        stop=tuple(cfg.rollout.stop),
        overlong=sw.overlong,
        overlong_cache=sw.overlong_cache,
        dynamic_sampling=sw.dynamic_sampling,
        max_refill=sw.max_refill,
    )
    seed = cfg.run.seed * 1_000_003 + step + 7_919_000_003 * sess.dist.rank  # ranks sample independently
    ro, cursor = collect(sess.gen, sess.stream, sess.cursor, spec, sess.reward, sess.reward_label, seed=seed)
    sess.cursor = sess.dist.all_max(cursor)  # dynamic sampling may refill more on one rank
    seqs, weights, sampler = build_sequences(sess.tokenizer, ro, mask_truncated=sw.overlong == "mask")
    groups = torch.arange(len(ro.problems)).repeat_interleave(cfg.rollout.group_size)  # (P*G,)
    adv = advantages(sess, cfg, sw, ro.rewards, seqs, weights)  # (P*G,)
    if sw.process_coef > 0:
        sampled = Groups(ro.problems, ro.completions)
        adv = with_process(adv, process, sess.tokenizer, sampled, seqs, coef=sw.process_coef)  # (P*G, R)
    tis = cfg.rollout.tis if cfg.rollout.tis is not None else not getattr(sess.gen, "sampler_is_trainer", True)
    t1 = time.perf_counter()
    stats = policy_update.update(
        sess.model,
        sess.ref,
        sess.opt,
        sess.sched,
        seqs,
        adv,
        weights,
        sw,
        micro_batch=cfg.rollout.micro_batch,
        max_tokens=cfg.rollout.max_tokens,
        pad_id=sess.tokenizer.pad_token_id,
        grad_clip=cfg.optim.grad_clip,
        sampler=sampler,
        correction=cfg.rollout.correction(tis),
        groups=groups,
        teacher=sess.teacher,
        engine=sess.engine,
    )
    t2 = time.perf_counter()
    dt = t2 - t0
    m = rollout_metrics(ro, sess, cfg)
    m.update(stats)
    m.update(
        {
            "train_s": t2 - t1,
            "step_s": dt,
            "lr": sess.sched.get_last_lr()[0],
            "tokens_per_s": (m["gen_tokens"] + sum(len(s.ids) for s in seqs) * sw.epochs) / dt,
        }
    )
    return m


def train_grpo(cfg: GRPOConfig, *, reward_fn=None, **session_kwargs) -> dict:
    """Run (or resume) GRPO; returns the summary also written to run.out/summary.json.
    session_kwargs (model, tokenizer, generator, accuracy_fn) replace what the config would load."""
    sw = resolve_switches(cfg.preset, cfg.algo)
    problems = load_problems(cfg.data)
    sess = Session.open(
        cfg.model, cfg.optim, cfg.run, total_steps=cfg.run.steps * sw.epochs, train=cfg.train, **session_kwargs
    )
    reward = reward_fn or (get_reward(cfg.reward, **cfg.reward_options) if cfg.reward_options else cfg.reward)
    sess.set_reward(reward, reward_name(reward_fn or cfg.reward), problems)
    process = get_reward("prm", path=cfg.prm) if sw.process_coef > 0 else None
    sess.ref = sess.load_ref(cfg.model) if sw.kl_coef > 0 else None
    sess.teacher = load_teacher(cfg.teacher, sess) if sw.distill_coef > 0 else None
    with sess.dist.main_first():  # rank 0 measures curriculum pass rates, the others read them
        sess.stream = sess.shard(make_stream(sess, cfg, problems))
    sess.resume(to_dict(cfg))
    summary = {"config": to_dict(cfg), "switches": to_dict(sw), "start_step": sess.step}
    held_out = held_out_problems(cfg.data.task, cfg.eval, cfg.data.level)
    return sess.train_and_report(
        lambda step: grpo_step(sess, cfg, sw, step, process),
        summary,
        label="grpo",
        status_key="reward_mean",
        held_out=held_out,
        max_tokens=cfg.eval.max_tokens,
        every_eval=cfg.eval.every,
    )


def load_teacher(name: str, sess: Session):
    """The frozen teacher for on-policy distillation; it must share the student's vocabulary
    (the reverse KL compares the two distributions token by token)."""
    from ponder.train.common import frozen_copy, load_policy

    teacher, tok = load_policy(name, sess.dist.device)
    if tok.get_vocab() != sess.tokenizer.get_vocab():
        raise PonderError(f"teacher {name!r} has another tokenizer than the student; on-policy distillation needs one")
    return frozen_copy(teacher)


def make_stream(sess: Session, cfg: GRPOConfig, problems) -> ProblemStream:
    """The problem stream, ordered or weighted by pass rates (measured once, saved, reused on resume)."""
    if cfg.curriculum == "none":
        return ProblemStream(problems, seed=cfg.data.seed)
    from ponder.io import read_jsonl, write_jsonl
    from ponder.train import curriculum

    path = Path(cfg.run.out) / "pass_rates.jsonl"
    if path.is_file():
        rates = [r["pass_rate"] for r in read_jsonl(path)]
    else:
        rates = curriculum.pass_rates(
            sess.gen,
            problems,
            sess.accuracy_fn,
            k=cfg.curriculum_k,
            temperature=cfg.rollout.temperature,
            max_tokens=cfg.rollout.max_tokens,
            seed=cfg.run.seed,
        )
        write_jsonl(path, [{"id": p.id, "pass_rate": r} for p, r in zip(problems, rates)])
    if cfg.curriculum == "easy_to_hard":
        return ProblemStream(problems, seed=cfg.data.seed, order=curriculum.easy_to_hard(rates, seed=cfg.data.seed))
    return ProblemStream(problems, seed=cfg.data.seed, weights=curriculum.learnability_weights(rates))
