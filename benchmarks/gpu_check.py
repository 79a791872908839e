"""GPU check: does ponder's user-model path hold at 0.5B scale on a GPU, and how fast is it?

One short script (a few minutes on one H100/H200) for a session that is lent a GPU. It builds a
Qwen2-0.5B-shaped model from a config (24 layers, d=896, 14 heads / 2 kv heads, vocab 151,936,
random weights, bf16) with a BPE tokenizer trained here by `tokenizers` on task text and a chat
template with a system role, saves both as a Hugging Face folder, and runs the path a user's own
model takes (`load_generator(FOLDER)`):

  solve   greedy on 8 arithmetic problems (run_search, as `ponder solve --model FOLDER`)
  beam    beam search over 64 problems (budget 8, width 4, confidence scorer, at most 4 steps)
  grpo    one GRPO step (8 prompts x 8 samples) on the same weights, with a dense toy reward
  vllm    where vLLM is installed (bash scripts/setup.sh --vllm): the same folder on vLLM's engine,
          sampling 64 prompts x 256 tokens (EOS off) against the hf backend (target on a GPU:
          vLLM >= 5x the hf backend's tokens/s), and the same beam search on vLLM
  train   one SFT step and one GRPO policy update of a fresh random model of the same shape in
          bf16, with / without gradient checkpointing and LoRA, and pure bf16 (gpu_train.py;
          a dry run covers one variant, bf16+lora+ckpt)

Each phase records wall seconds, generated tokens, tokens/s and peak GPU memory; the JSON goes to
benchmarks/results/gpu_check.json with the device named. A random model writes gibberish, so
these are speed and memory numbers only, never accuracy. Most ids it samples lie past the
tokenizer's 4k tokens (the vocabulary is Qwen2's 151,936, for a true 0.5B cost profile) and decode
to nothing, so a step rarely ends at a delimiter: beam is capped at 4 steps of up to 256 tokens.
`--dry-run` runs the same code with a 2-layer d=64 model on the CPU in seconds (the test suite
runs it). The full shape was checked on this CPU for a few tokens (494,032,768 parameters; build
45 s, 1 greedy problem x 4 tokens, beam on 2 problems), not timed on a GPU.

Run: PYTHONPATH=. python benchmarks/gpu_check.py            (on the GPU machine)
     PYTHONPATH=. python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import torch

QWEN2_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=True)  # fmt: skip
# TINY: head_dim 32, the smallest that vLLM's CPU attention takes (16 is refused)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
            max_position_embeddings=1024, tie_word_embeddings=True)  # fmt: skip
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<answer>", "</answer>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def corpus(n: int) -> list[str]:
    """Questions and reference traces of the built-in tasks: the tokenizer's training text."""
    from ponder.tasks import get_task, make_problems

    rng, out = random.Random(0), []
    for task in ("arithmetic", "countdown", "equations"):
        for p in make_problems(task, n, seed=1):
            out += [p.question, get_task(task).trace(p, rng)]
    return out


def build_tokenizer(vocab: int, n_texts: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(corpus(n_texts), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE)  # fmt: skip


def build_folder(folder: Path, dry_run: bool, dtype: torch.dtype) -> int:
    """Save a random Qwen2 and its tokenizer as a Hugging Face folder; returns the parameter count."""
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    tok = build_tokenizer(vocab=400 if dry_run else 4000, n_texts=100 if dry_run else 2000)
    shape = dict(TINY, vocab_size=len(tok)) if dry_run else QWEN2_05B
    cfg = Qwen2Config(**shape, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(dtype)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def timed(device: str, fn) -> dict:
    """Run fn() -> dict of counts; add wall seconds and the peak GPU memory of the phase."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    out["seconds"] = time.perf_counter() - t0
    if "generated_tokens" in out:
        out["tokens_per_s"] = out["generated_tokens"] / out["seconds"]
    return out


def search_phase(gen, strategy: str, problems, **kw) -> dict:
    from ponder.search import run_search

    results = run_search(strategy, problems, gen, seed=0, **kw)
    return {"problems": len(problems), "generated_tokens": sum(r.cost.generated_tokens for r in results),
            "prompt_tokens": sum(r.cost.prompt_tokens for r in results)}  # fmt: skip


def digit_share(prompts, completions, **columns):
    """A dense toy reward under the contract (share of digits), so a random model's step has a gradient."""
    return [sum(c.isdigit() for c in text) / max(len(text), 1) for text in completions]


def grpo_phase(gen, out_dir: Path, device: str, dry_run: bool) -> dict:
    from ponder.config import load_config
    from ponder.train.grpo import GRPOConfig, train_grpo

    p, g, t = (2, 2, 16) if dry_run else (8, 8, 256)
    cfg = load_config(GRPOConfig, None, [f"run.out={out_dir}", "run.steps=1", "run.progress=false", "run.save_every=0",
                                         f"run.device={device}", "data.task=arithmetic", f"data.n={4 * p}",
                                         f"rollout.prompts_per_step={p}", f"rollout.group_size={g}",
                                         f"rollout.max_tokens={t}", f"rollout.micro_batch={g}"])  # fmt: skip
    summary = train_grpo(cfg, model=gen.model, tokenizer=gen.tokenizer, generator=gen, reward_fn=digit_share)
    return {"steps": summary["steps"], "rollouts": p * g, "max_tokens": t}


def vllm_phase(folder: Path, hf_gen, device: str, dry_run: bool) -> dict:
    """Sampling at batch 64 on vLLM and on the hf backend, and beam search on vLLM (if installed)."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return {"skipped": "vLLM is not installed (bash scripts/setup.sh --vllm)"}
    from ponder.gen import load_generator
    from ponder.tasks import make_problems
    from ponder.types import SamplingParams

    opts = {"gpu_memory_utilization": 0.5} if device.startswith("cuda") else {}
    vgen = load_generator(str(folder), backend="vllm", dtype="bfloat16" if device.startswith("cuda") else "float32",
                          max_model_len=1024, **opts)  # fmt: skip
    n, tokens = (4, 16) if dry_run else (64, 256)
    prompts = [vgen.render(p.question) for p in make_problems("arithmetic", n, seed=2)]
    params = SamplingParams(temperature=1.0, max_tokens=tokens, seed=0)

    def sample(gen) -> dict:
        out = gen.generate(prompts, params, ignore_eos=True)
        return {"prompts": n, "generated_tokens": sum(len(c.token_ids) for g in out for c in g)}

    sample(vgen), sample(hf_gen)  # warm-up
    rec = {"sample_vllm": timed(device, lambda: sample(vgen)), "sample_hf": timed(device, lambda: sample(hf_gen))}
    rec["speedup_vllm_vs_hf"] = rec["sample_vllm"]["tokens_per_s"] / rec["sample_hf"]["tokens_per_s"]
    beam = make_problems("arithmetic", 4 if dry_run else 64, seed=1)
    rec["beam_vllm"] = timed(device, lambda: search_phase(vgen, "beam", beam, budget=8, width=4, scorer="confidence",
                                                          max_tokens=tokens))  # fmt: skip
    rec["beam_vllm"]["prompt_tokens_cached"] = vgen.prefix_stats["cached_tokens"]
    vgen.close()
    return rec


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def run(dry_run: bool, out: Path) -> dict:
    from ponder.gen import load_generator
    from ponder.io import write_json
    from ponder.tasks import make_problems

    device = "cpu" if dry_run or not torch.cuda.is_available() else "cuda"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    torch.set_num_threads(1 if dry_run else torch.get_num_threads())
    import transformers

    rec: dict = {"mode": "dry-run" if dry_run else "full", "device": device_name(device), "dtype": str(dtype),
                 "torch": torch.__version__, "transformers": transformers.__version__, "load": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "qwen2-random"
        rec["build"] = timed(device, lambda: {"n_params": build_folder(folder, dry_run, dtype)})
        gen = load_generator(str(folder), device=device, dtype=dtype)
        n_solve, n_beam, tokens = (2, 4, 16) if dry_run else (8, 64, 256)
        solve = make_problems("arithmetic", n_solve, seed=0)
        rec["solve"] = timed(device, lambda: search_phase(gen, "greedy", solve, max_tokens=tokens))
        beam = make_problems("arithmetic", n_beam, seed=1)
        rec["beam"] = timed(device, lambda: search_phase(gen, "beam", beam, budget=8, width=4, scorer="confidence",
                                                         max_depth=4, max_tokens=tokens))  # fmt: skip
        rec["grpo"] = timed(device, lambda: grpo_phase(gen, Path(tmp) / "grpo", device, dry_run))
        rec["vllm"] = vllm_phase(folder, gen, device, dry_run)
    from benchmarks.gpu_train import train_section

    rec["train"] = train_section(device, dry_run, ["bf16+lora+ckpt"] if dry_run else None)
    write_json(out, rec)
    return rec


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="a 2-layer model on the CPU: checks the script, not the GPU")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_check.json"))
    args = ap.parse_args(argv)
    return run(args.dry_run, args.out)


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
