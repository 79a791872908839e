"""GPU check, training section (issue 19): one SFT step and one GRPO policy update of a
Qwen2-0.5B-shaped random-init model in bf16, with and without gradient checkpointing and LoRA;
seconds per step and peak GPU memory per variant.

Each variant builds a fresh model (24 layers, d=896, 14 heads / 2 kv heads, vocab 151,936, tied
embeddings; ~494M parameters) and opens a real ponder training Session with the variant's
`train:` block, then times one step through ponder's own code:

  sft   sft_loss_backward + optimiser step on 16 rows x 1024 tokens (micro-batch 4)
  grpo  policy_update.update on 8 prompts x 8 samples of 128 + 512 tokens, KL to the reference
        (a frozen copy, or the adapter-off base with LoRA), micro-batch 8, one epoch

Token ids are random (a random model's rollouts would be gibberish anyway; the rollout speed of
the same model is gpu_check.py's grpo phase). Variants: bf16 autocast with fp32 master weights
("bf16"), + gradient checkpointing, LoRA r=16 on all linear layers, LoRA + checkpointing, and
pure bf16. `--dry-run` runs the same code on a 2-layer d=64 model on the CPU (the test suite
runs it); peak memory is then not measured (CPU has no allocator statistics).

Run: PYTHONPATH=. python benchmarks/gpu_train.py            (on the GPU machine)
     PYTHONPATH=. python benchmarks/gpu_train.py --dry-run --out /tmp/gpu_train.json
benchmarks/gpu_check.py runs this as its `train` section (`train_section`); the script also
runs on its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

QWEN2_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=True)  # fmt: skip
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=512, max_position_embeddings=2048, tie_word_embeddings=True)  # fmt: skip
VARIANTS = {
    "bf16": {"train.precision": "bf16"},
    "bf16+ckpt": {"train.precision": "bf16", "train.grad_checkpointing": True},
    "bf16+lora": {"train.precision": "bf16", "train.lora.r": 16},
    "bf16+lora+ckpt": {"train.precision": "bf16", "train.lora.r": 16, "train.grad_checkpointing": True},
    "bf16-pure": {"train.precision": "bf16-pure"},
}


def _session(shape: dict, variant: dict, device: str, out: str):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from ponder.config import load_config
    from ponder.models.tiny.build import build_tokenizer
    from ponder.train.grpo import GRPOConfig
    from ponder.train.session import Session

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**shape)).to(device)
    over = [f"{k}={json.dumps(v)}" for k, v in variant.items()] + ["train.lora.targets=[all-linear]"]
    cfg = load_config(GRPOConfig, None, [f"run.out={out}", f"run.device={device}", "run.progress=false", *over])
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=10, train=cfg.train, model=model,
                        tokenizer=build_tokenizer(), need_gen=False)  # fmt: skip
    return sess, cfg


def _seqs(n: int, prompt: int, response: int, vocab: int, seed: int):
    from ponder.train.batch import Seq

    g = torch.Generator().manual_seed(seed)
    return [Seq(torch.randint(3, vocab, (prompt + response,), generator=g).tolist(), prompt) for _ in range(n)]


def _timed(fn, device: str) -> tuple[float, float | None]:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter() - t0, torch.cuda.max_memory_allocated() / 2**30
    return time.perf_counter() - t0, None


def _steps(sess, cfg, shape: dict, device: str, dry: bool) -> dict:
    """Time one SFT step and one GRPO update on this session's model."""
    from ponder.train.policy_update import update
    from ponder.train.presets import resolve_switches
    from ponder.train.sft import sft_loss_backward

    rows, long = (4, 64) if dry else (16, 1024)
    groups, (p_len, r_len) = (2, (16, 32)) if dry else (8, (128, 512))
    eng, pad = sess.engine, sess.tokenizer.pad_token_id
    sft = _seqs(rows, long // 4, long - long // 4, shape["vocab_size"], 0)

    def sft_step():
        sft_loss_backward(sess.model, sft, micro_batch=4, packing=False, max_len=long, pad_id=pad, engine=eng)
        eng.step(sess.model, sess.opt, sess.sched, 1.0)

    sw = resolve_switches("grpo", {"kl_coef": 0.04})
    sess.ref = sess.load_ref(cfg.model)
    ro = _seqs(groups * 8, p_len, r_len, shape["vocab_size"], 1)
    adv, weights = torch.randn(len(ro)), torch.ones(len(ro))

    def grpo_step():
        update(sess.model, sess.ref, sess.opt, sess.sched, ro, adv, weights, sw, micro_batch=8,
               max_tokens=r_len, pad_id=pad, grad_clip=1.0, engine=eng)  # fmt: skip

    sft_step()  # warm-up: allocator, optimiser state
    sft_s, sft_mem = _timed(sft_step, device)
    grpo_s, grpo_mem = _timed(grpo_step, device)
    return {"params": sum(p.numel() for p in sess.module.parameters()),
            "trainable": sum(p.numel() for p in sess.module.parameters() if p.requires_grad),
            "sft_s": sft_s, "sft_peak_gib": sft_mem, "sft_tokens": rows * long,
            "grpo_s": grpo_s, "grpo_peak_gib": grpo_mem, "grpo_tokens": len(ro) * (p_len + r_len)}  # fmt: skip


def run_variant(name: str, shape: dict, device: str, dry: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        res = {"variant": name, **_steps(*_session(shape, VARIANTS[name], device, tmp), shape, device, dry)}
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return res


def train_section(device: str, dry_run: bool, variants: list[str] | None = None) -> list[dict]:
    """Rows for `variants` (all by default) on the 0.5B shape, or the tiny one in a dry run."""
    shape = TINY if dry_run else QWEN2_05B
    return [run_variant(name, shape, device, dry_run) for name in variants or list(VARIANTS)]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="a 2-layer d=64 model on the CPU, seconds")
    ap.add_argument("--out", default="benchmarks/results/gpu_train.json")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {list(VARIANTS)}")
    args = ap.parse_args(argv)
    device = "cpu" if args.dry_run else "cuda"
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --dry-run to check the script on the CPU")
    shape = TINY if args.dry_run else QWEN2_05B
    rows = train_section(device, args.dry_run, args.variants.split(","))
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    result = {"device": name, "dry_run": args.dry_run, "shape": shape, "torch": torch.__version__, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(json.dumps(r))
    return result


if __name__ == "__main__":
    main()
