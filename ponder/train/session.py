"""The state of one training run and the outer loop every trainer shares: model, tokenizer,
optimiser, scheduler, a generator over the live weights, the data position, resume from the
latest checkpoint, periodic checkpoints, metrics + health check + progress bar, and a wall-clock
cap. A trainer supplies only `step_fn(step) -> metrics`; state it needs to resume goes in
`Session.cursor` (the data position) or `Session.extra` (saved in trainer_state.json).

The `train:` block (precision, gradient checkpointing, LoRA) is applied here for every trainer
(hardware.py); under torchrun the session is one rank of a data-parallel job (distributed.py):
`model` is the DDP wrapper trainers run forward/backward through, `module` the plain model
(generation, saving), the data stream is this rank's share, metrics are reduced across ranks and
only rank 0 writes, evaluates and shows progress.

Left out: early stopping on a metric (the health check only warns).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.io import write_json
from ponder.train import sampler
from ponder.train.checkpoint import (
    find_resume_point,
    has_run,
    load_checkpoint,
    load_hf_weights,
    save_checkpoint,
    save_hf,
)
from ponder.train.common import (
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    check_tokenizer,
    frozen_copy,
    load_policy,
    make_optimizer,
    make_scheduler,
    seed_everything,
    set_threads,
)
from ponder.train.distributed import Dist
from ponder.train.evaluate import greedy_accuracy
from ponder.train.hardware import Engine, prepare_model
from ponder.train.health import HealthCheck
from ponder.train.rewards import accuracy, preflight, resolve_reward
from ponder.train.runlog import MetricsLog, Progress
from ponder.types import PonderError

log = logging.getLogger(__name__)


@dataclass
class Session:
    model: Any
    tokenizer: Any
    opt: Any
    sched: Any
    run: RunConfig
    gen: Any = None
    accuracy_fn: Callable = accuracy
    ref: Any = None
    teacher: Any = None  # on-policy distillation (grpo.load_teacher)
    reward: Callable | None = None
    reward_label: str = ""
    stream: Any = None
    step: int = 0
    cursor: int = 0
    extra: dict = field(default_factory=dict)
    log: MetricsLog | None = None
    health: HealthCheck = field(default_factory=HealthCheck)
    last_metrics: dict = field(default_factory=dict)
    before: dict | None = None  # held-out accuracy at step 0, carried in checkpoints
    elapsed_s: float = 0.0  # training seconds before this process started (from the checkpoint)
    _clock: float | None = None
    save_model: Callable | None = None  # folder -> None; default: a Hugging Face folder
    load_model: Callable | None = None  # folder -> None; default: Hugging Face weights in place
    module: Any = None  # the plain (unwrapped) model; `model` is its DDP wrapper under torchrun
    engine: Engine = field(default_factory=Engine)
    lora: bool = False
    prompt: str = "tiny"  # prompt format of rendered questions (ModelConfig.prompt, resolved)

    def render(self, question: str) -> str:
        """A question as the prompt text the policy sees (the run's prompt format)."""
        from ponder.train.common import render_prompt

        return render_prompt(self.tokenizer, question, self.prompt)

    @classmethod
    def open(
        cls,
        mcfg: ModelConfig,
        ocfg: OptimConfig,
        run: RunConfig,
        *,
        total_steps: int,
        train: TrainConfig | None = None,
        model=None,
        tokenizer=None,
        generator=None,
        accuracy_fn=None,
        need_gen: bool = True,
        param_groups: list[dict] | None = None,
        data_parallel: bool = True,
        unused_params: bool = False,
    ) -> Session:
        """unused_params: some trainable parameters get no gradient (a reward model's lm_head);
        DDP then looks for them each step."""
        train = train or TrainConfig()
        set_threads(run.threads)
        dist = Dist.from_env(run.device, train.parallel)
        if dist.world > 1 and not data_parallel:
            raise PonderError("this trainer does not run under torchrun (data parallel); start it as one process")
        seed_everything(run.seed)
        if model is None:
            model, tokenizer = load_policy(mcfg.name, dist.device)
        check_tokenizer(tokenizer, mcfg.name)
        if param_groups is not None and train.lora.r > 0:
            raise PonderError("train.lora is not supported by this trainer (it sets its own parameter groups)")
        if dist.sharded:
            from ponder.train.fsdp import check_supported

            check_supported(train, param_groups)
        model = prepare_model(model.to(dist.device), train, base=mcfg.name)
        model.train()
        wrapped = dist.wrap(
            model, find_unused=unused_params
        )  # DDP wrapper, or (fsdp) the model sharded in place: before the optimiser
        opt = make_optimizer(model, ocfg, param_groups)
        sess = cls(wrapped, tokenizer, opt, make_scheduler(opt, ocfg, total_steps), run)
        sess.module, sess.engine, sess.lora = model, Engine.make(train.precision, dist), train.lora.r > 0
        if dist.sharded:
            from ponder.train.fsdp import load_full_weights

            sess.load_model = lambda folder: load_full_weights(model, folder)
        elif sess.lora:
            from ponder.train.lora import load_adapter_weights, save_adapters

            sess.save_model = lambda folder: save_adapters(model, tokenizer, folder)
            sess.load_model = lambda folder: load_adapter_weights(model, folder)
        else:
            sess.save_model = lambda folder: save_hf(model, tokenizer, folder)
            sess.load_model = lambda folder: load_hf_weights(model, folder)
        sess.accuracy_fn = accuracy_fn or accuracy
        from ponder.prompts import default_prompt, get_prompt, prompted

        sess.prompt = get_prompt(mcfg.prompt).name if mcfg.prompt else default_prompt(mcfg.name, None)
        if need_gen:
            gen = generator or sampler.live_generator(model, tokenizer, mcfg, run.seed)
            if dist.sharded and generator is None:
                from ponder.train.fsdp import GatheredSampler

                gen = GatheredSampler(gen, dist.gather)
            if sess.lora and generator is None and mcfg.sampler == "hf":
                gen.fast = False  # the fast Llama decoder reads base weights directly, not adapters
            sess.gen = prompted(gen, mcfg.name, None, mcfg.prompt)
            sess.prompt = sess.gen.format.name
        return sess

    @property
    def dist(self) -> Dist:
        return self.engine.dist

    def shard(self, stream):
        """This rank's share of a data stream (the stream itself on one process)."""
        return self.dist.shard(stream)

    def set_reward(self, spec, label: str, problems) -> None:
        self.reward, self.reward_label = resolve_reward(spec), label
        preflight(self.reward, label, problems)

    def resolve(self, name: str) -> Callable:
        return resolve_reward(name)

    def load_ref(self, mcfg: ModelConfig):
        """The frozen reference: `model.ref` when given; with LoRA the policy with its adapters
        off (the base, no copy); else a copy of the starting weights (taken before any
        checkpoint is loaded, so a resumed run keeps the true start)."""
        if mcfg.ref:
            return frozen_copy(load_policy(mcfg.ref, self.dist.device)[0])
        if self.dist.sharded:
            from ponder.train.fsdp import sharded_copy

            return sharded_copy(self.module, self.dist)
        if self.lora:
            from ponder.train.lora import AdaptersOff

            return AdaptersOff(self.module)
        return frozen_copy(self.module)

    def resume(self, config: dict) -> None:
        """Continue from the newest intact checkpoint in run.out (checkpoint.find_resume_point);
        a fresh start only in a folder that holds no earlier run, which is never overwritten."""
        self.config = config
        ck = None
        if self.run.resume:
            ck = find_resume_point(self.run.out)
        elif has_run(Path(self.run.out)):
            raise PonderError(
                f"run.resume is off but {self.run.out} holds an earlier run; choose a new run.out (nothing was changed)"
            )
        if ck is not None:
            opt = self.opt
            if self.dist.sharded:
                from ponder.train.fsdp import ShardedOptimizer

                opt = ShardedOptimizer(self.module, self.opt)
            state = load_checkpoint(ck, self.load_model, opt, self.sched, self.engine.scaler)
            self.step, self.extra = state["step"], state.get("extra", {})
            self.cursor = self.dist.to_local(state.get("cursor", 0))  # saved as a global position
            self.before, self.elapsed_s = state.get("before"), state.get("elapsed_s", 0.0)
            log.info("resumed from %s at step %d", ck, self.step)
        if self.dist.is_main:
            self.log = MetricsLog(self.run.out, resume_step=self.step if ck is not None else None)
        else:
            self.log = _NoLog()

    def save(self) -> None:
        """A checkpoint of this step (rank 0 writes it; the replicas are identical; fsdp: every
        rank first helps gather the full state onto rank 0)."""
        save_model, opt = self.save_model, self.opt
        if self.dist.sharded:
            from ponder.train.fsdp import ShardedOptimizer, full_state

            weights, optim = full_state(self.module, self.opt)
            opt = ShardedOptimizer(self.module, self.opt, optim)
            save_model = lambda folder: save_hf(self.module, self.tokenizer, folder, state_dict=weights)  # noqa: E731
        if not self.dist.is_main:
            return
        state = {
            "cursor": self.dist.to_global(self.cursor),
            "world_size": self.dist.world,
            "extra": self.extra,
            "config": self.config,
            "before": self.before,
            "elapsed_s": self.elapsed(),
        }
        save_checkpoint(self.run.out, self.step, save_model, opt, self.sched, state, scaler=self.engine.scaler)

    def run_steps(
        self,
        step_fn: Callable[[int], dict],
        *,
        label: str,
        status_key: str,
        every_eval: int = 0,
        eval_fn: Callable[[], dict] | None = None,
        stop_fn: Callable[[], bool] | None = None,
    ) -> None:
        """Steps until run.steps or run.max_minutes; `stop_fn` (asked on every rank after each
        evaluation, any rank's True stops all) ends the run early, e.g. on a held-out plateau."""
        bar = Progress(self.run.steps, self.step, label, enabled=self.run.progress and self.dist.is_main)
        self._clock = time.perf_counter()
        try:
            while self.step < self.run.steps:
                metrics = self.dist.reduce_metrics(step_fn(self.step + 1))
                metrics["world_size"] = self.dist.world
                self.step += 1
                metrics["warnings"] = self.health.update(metrics)
                due = every_eval and self.step % every_eval == 0
                if due:
                    metrics.update(self._evaluate(eval_fn))
                if self.step % max(self.run.log_every, 1) == 0 or metrics["warnings"]:
                    self.log.write(self.step, metrics)
                self.last_metrics = metrics
                bar.update(self.step, f"{status_key} {metrics.get(status_key, float('nan')):.3f}")
                timed_out = bool(self.run.max_minutes) and self.dist.any(self.elapsed() > 60 * self.run.max_minutes)
                stopped = bool(due and stop_fn is not None and self.dist.any(stop_fn()))
                if (self.run.save_every and self.step % self.run.save_every == 0) or timed_out or stopped:
                    self.save()
                if timed_out:
                    log.warning("stopping at step %d: run.max_minutes=%s reached", self.step, self.run.max_minutes)
                if timed_out or stopped:
                    break
        finally:
            self.elapsed_s, self._clock = self.elapsed(), None
            bar.close()

    @staticmethod
    def _evaluate(eval_fn: Callable[[], dict] | None) -> dict:
        return {f"eval/{k}": v for k, v in eval_fn().items()} if eval_fn is not None else {}

    def elapsed(self) -> float:
        """Seconds spent in training steps, over every resume of this run."""
        return self.elapsed_s + (time.perf_counter() - self._clock if self._clock is not None else 0.0)

    def train_and_report(
        self,
        step_fn: Callable[[int], dict],
        summary: dict,
        *,
        label: str,
        status_key: str,
        held_out: list,
        max_tokens: int,
        every_eval: int = 0,
    ) -> dict:
        """Held-out greedy accuracy before (fresh runs) and after, the steps in between, a final
        checkpoint, and run.out/summary.json; returns the summary."""

        def evaluate() -> dict:
            """Rank 0 measures ({} on the others); fsdp: every rank gathers the weights first."""
            with self.dist.gathered():
                if not self.dist.is_main:
                    return {}
                return greedy_accuracy(self.gen, held_out, self.accuracy_fn, max_tokens=max_tokens)

        if held_out and self.step == 0:
            self.before = evaluate()
            self.log.write(0, {f"eval/{k}": v for k, v in self.before.items()})
        if self.before is not None:
            summary["before"] = self.before
        self.run_steps(
            step_fn, label=label, status_key=status_key, every_eval=every_eval, eval_fn=evaluate if held_out else None
        )
        if held_out:
            summary["after"] = evaluate()
            self.log.write(self.step, {f"eval/{k}": v for k, v in summary["after"].items()})
        summary.update(self.finish())
        summary["world_size"] = self.dist.world
        if self.dist.is_main:
            write_json(f"{self.run.out}/summary.json", summary)
        self.dist.barrier()
        return summary

    def finish(self) -> dict:
        """Final checkpoint; returns what the summary should record."""
        self.save()
        self.log.close()
        return {
            "steps": self.step,
            "final_metrics": {k: v for k, v in self.last_metrics.items() if k != "warnings"},
            "warnings": sorted({w for m in self.health.history for w in m.get("warnings", [])}),
        }


class _NoLog:
    """The metrics log of ranks other than 0 (rank 0 writes the reduced metrics)."""

    def write(self, step: int, metrics: dict) -> None:
        pass

    def close(self) -> None:
        pass
