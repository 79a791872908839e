"""The vLLM backend: a Generator over vLLM's offline engine (`vllm.LLM`), CPU build or CUDA build.

Prompts go in as token ids (encoded like the hf backend, without special tokens: the rendered
prompt already holds `<bos>`, which vLLM's own tokenization would add a second time). One
`generate()` call submits every prompt with `n` samples; vLLM schedules them together, and
prefix caching (on by default) reuses the KV cache of prompt prefixes it has already seen, which
is what makes step-level search cheap: each step re-sends the trace so far. Completions keep the
hf backend's contract: text re-decoded from the token ids (stop string kept and the text cut
after it, a final EOS in token_ids but not in text), logprobs of the sampled tokens at
temperature 1 before top-k/top-p (vLLM's raw logprobs), prompt length in prompt_tokens.

Seeds: each prompt gets its own vLLM seed, a 63-bit hash of its ponder seed
(SamplingParams.prompt_seeds: one int seed derives one per prompt), and vLLM gives its j-th sample
that seed + j; so duplicated prompts in one call still get different samples, a call is
repeatable, and a seeded prompt draws from its own generator whatever else is in the call. vLLM
does not promise bit-equal logits across batch shapes, so a different batch may still move a
token; the numbers differ from the hf backend's (another generator).
`load_weights` pushes a trainer's parameters into the running engine (no restart) for RL rollouts.
`prefix_stats` counts prompt tokens sent, prompt tokens served from the prefix cache, and tail
tokens: the cache reuses whole KV blocks (`block_size`; CPU: 32, the smallest its attention kernel
takes) up to the prompt's last token, and vLLM runs each of n samples as its own request, so every
sample prefills its prompt's tail (1 to block_size tokens) even when the rest is cached.

Environment set before vLLM is imported (each only when unset): VLLM_HOST_IP=127.0.0.1 (stay on
loopback), VLLM_ENABLE_V1_MULTIPROCESSING=0 (engine in this process: needed by `load_weights`),
VLLM_CPU_KVCACHE_SPACE (GiB, from kv_cache_gb, default 1), VLLM_CPU_OMP_THREADS_BIND=nobind (the CPU
build then runs on the process's torch threads, `torch.set_num_threads` before loading; its own
default pins one thread per core, which on a shared machine ran 10-40x slower). Left out: tensor/pipeline
parallelism options, LoRA, speculative decoding, the async engine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from ponder.gen.stop_tokens import stop_token_ids, token_pieces
from ponder.gen.stops import completion_text
from ponder.gen.text import decode, empty_completions, encode, render_prompt
from ponder.types import Completion, PonderError, SamplingParams, mix64

log = logging.getLogger(__name__)

SETUP_HINT = "bash scripts/setup.sh --vllm"
ENV_DEFAULTS = {
    "VLLM_HOST_IP": "127.0.0.1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
}
CPU_BLOCK_SIZE = 32  # the smallest block vLLM's CPU attention accepts (its default is 128)


def import_vllm(kv_cache_gb: int | None = None):
    """The vllm module, with ponder's environment defaults set first; a one-line error when absent."""
    if kv_cache_gb is not None:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(kv_cache_gb)
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        import vllm
    except ImportError as e:
        raise PonderError(f"the vllm backend needs vLLM, which did not import ({e}); install it: {SETUP_HINT}") from e
    return vllm


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def check_block_size(block_size: int | None, cuda: bool) -> int | None:
    """The KV block size to ask for: prefix caching reuses whole blocks only, so smaller blocks
    cache more of a short re-sent prompt. None on CPU -> CPU_BLOCK_SIZE (vLLM's CPU default, 128,
    never caches a prompt shorter than 128 tokens); None on CUDA -> vLLM's own default. On CPU a
    size the attention kernel refuses is a one-line error here instead of a traceback from inside
    vLLM (CUDA kernels differ in what they take: vLLM checks those)."""
    if block_size is None:
        return None if cuda else CPU_BLOCK_SIZE
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size <= 0:
        raise PonderError(f"block_size must be a positive whole number of tokens, got {block_size!r}")
    if not cuda and block_size % 32:
        raise PonderError(f"block_size={block_size}: vLLM's CPU attention needs a multiple of 32 (default 32)")
    return block_size


def vllm_seed(seed: int) -> int:
    """The vLLM seed of a prompt with ponder seed `seed`: a 63-bit hash, so the consecutive seeds
    vLLM gives a prompt's samples (seed + j) do not run into another prompt's."""
    return mix64(seed) >> 1


class VLLMGenerator:
    def __init__(
        self,
        path: str,
        *,
        name: str | None = None,
        dtype: str | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        kv_cache_gb: int | None = None,
        prefix_caching: bool = True,
        enforce_eager: bool | None = None,
        block_size: int | None = None,
        max_num_seqs: int | None = None,
        max_num_batched_tokens: int | None = None,
        seed: int = 0,
    ):
        cuda = _has_cuda()
        block_size = check_block_size(block_size, cuda)
        vllm = import_vllm(kv_cache_gb)
        from transformers import AutoTokenizer

        engine_args = dict(
            model=str(path),
            dtype=dtype or ("bfloat16" if cuda else "float32"),
            enable_prefix_caching=prefix_caching,
            enforce_eager=(not cuda) if enforce_eager is None else enforce_eager,  # compiling costs minutes on CPU
            seed=seed,
            logprobs_mode="raw_logprobs",  # the model's own distribution, before temperature / top-k / top-p
        )
        if max_model_len is not None:
            engine_args["max_model_len"] = max_model_len
        if block_size is not None:
            engine_args["block_size"] = block_size
        if not cuda:  # a seeded request split across steps crashes the CPU build ("CPU Generator does not use offset")
            engine_args["enable_chunked_prefill"] = False
        if gpu_memory_utilization is not None:
            engine_args["gpu_memory_utilization"] = gpu_memory_utilization
        if max_num_seqs is not None:
            engine_args["max_num_seqs"] = max_num_seqs
        if max_num_batched_tokens is not None:
            engine_args["max_num_batched_tokens"] = max_num_batched_tokens
        self.llm = vllm.LLM(**engine_args)
        self._vllm = vllm
        self._flat = {"flat_logprobs": True} if "flat_logprobs" in vllm.SamplingParams.__struct_fields__ else {}
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.name = f"vllm:{name or path}"
        self.prefix_caching = prefix_caching
        config = self.llm.llm_engine.vllm_config
        self.max_model_len = config.model_config.max_model_len
        self.block_size = config.cache_config.block_size  # what the engine took (prefix caching's unit)
        self.n_params = _count_params(path)
        self.prefix_stats = {"prompt_tokens": 0, "cached_tokens": 0, "tail_tokens": 0}
        self._pieces: list[str] | None = None

    def render(self, question: str) -> str:
        return render_prompt(self.tokenizer, question)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        encoded = encode(self.tokenizer, texts)
        if any(not e for e in encoded):
            raise PonderError("a prompt encodes to zero tokens; give every prompt some text")
        return encoded

    def _decode(self, ids: list[int]) -> str:
        return decode(self.tokenizer, ids)

    def stop_ids(self, stops: tuple[str, ...]) -> tuple[int, ...] | None:
        """Token ids that end the stop strings exactly (gen/stop_tokens.py), None if there are none."""
        if self._pieces is None:
            self._pieces = token_pieces(self.tokenizer)
        return stop_token_ids(self._pieces, stops)

    def _sampling(self, params: SamplingParams, ignore_eos: bool, stop_ids: tuple[int, ...] | None, seed: int | None):
        """vLLM's sampling parameters. Detokenizing is off (ponder decodes the token ids once per
        completion) unless a stop string can only be checked on text (stop_ids None)."""
        text_stops = {} if stop_ids is not None else dict(stop=list(params.stop), include_stop_str_in_output=True)
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1,
            max_tokens=params.max_tokens,
            stop_token_ids=list(stop_ids or ()) or None,
            seed=seed,
            logprobs=0 if params.logprobs else None,
            **self._flat,  # a few flat lists per request instead of a dict and a Logprob per token
            detokenize=stop_ids is None,
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
            ignore_eos=ignore_eos,
            **text_stops,
        )

    def _run(self, encoded: list[list[int]], sampling) -> list:
        outs = self.llm.generate([{"prompt_token_ids": e} for e in encoded], sampling, use_tqdm=False)
        samples = [s.n for s in sampling] if isinstance(sampling, list) else [sampling.n] * len(outs)
        for o, n in zip(outs, samples):
            length = len(o.prompt_token_ids)
            self.prefix_stats["prompt_tokens"] += length
            self.prefix_stats["cached_tokens"] += o.num_cached_tokens or 0
            self.prefix_stats["tail_tokens"] += n * (length - (length - 1) // self.block_size * self.block_size)
        return outs

    def generate(
        self, prompts: list[str], params: SamplingParams, *, ignore_eos: bool = False
    ) -> list[list[Completion]]:
        """One engine call for all prompts, n samples each (the contract in docs/gen.md); ignore_eos
        decodes on past EOS (benchmarks)."""
        encoded = self._encode(prompts)
        if not encoded or params.max_tokens == 0:
            return empty_completions(encoded, params)
        self._check_length(encoded)
        stop_ids = self.stop_ids(params.stop)
        seeds = params.prompt_seeds(len(encoded))
        if seeds is None:  # one shared parameter set
            sampling = self._sampling(params, ignore_eos, stop_ids, None)
        else:
            sampling = [self._sampling(params, ignore_eos, stop_ids, vllm_seed(s)) for s in seeds]
        outs = self._run(encoded, sampling)
        stops = set(stop_ids or ())
        return [
            [self._completion(c, params, len(e), stops) for c in sorted(o.outputs, key=lambda c: c.index)]
            for o, e in zip(outs, encoded)
        ]

    def _check_length(self, encoded: list[list[int]]) -> None:
        """A prompt that leaves no room for one new token is an error; longer outputs are cut at
        max_model_len by vLLM (finish_reason "length")."""
        longest = max(len(e) for e in encoded)
        if longest >= self.max_model_len:
            raise PonderError(
                f"a prompt of {longest} tokens leaves no room under the engine's max_model_len="
                f"{self.max_model_len}; raise --max-model-len (up to the model's context) or shorten it"
            )

    def _completion(self, out, params: SamplingParams, prompt_len: int, stop_ids: set[int]) -> Completion:
        ids = list(out.token_ids)
        if out.finish_reason == "length":
            reason = "length"
        else:  # vLLM's "stop": a stop string or one of our stop tokens (stop_reason), or EOS
            stopped = isinstance(out.stop_reason, str) or out.stop_reason in stop_ids
            reason = "stop" if stopped else "eos"
        logprobs = None
        if params.logprobs:
            logprobs = picked_logprobs(out.logprobs, ids)
        return Completion(
            text=completion_text(self._decode, ids, reason, params.stop),
            token_ids=ids,
            logprobs=logprobs,
            finish_reason=reason,
            prompt_tokens=prompt_len,
        )

    def logprobs(self, prompts: list[str], continuations: list[str], batch_size: int = 64) -> list[list[float]]:
        """Teacher-forced model logprobs (temperature 1) of each continuation's tokens given its prompt."""
        if len(prompts) != len(continuations):
            raise PonderError(f"logprobs: {len(prompts)} prompts but {len(continuations)} continuations")
        heads, tails = self._encode(prompts), encode(self.tokenizer, continuations)
        score = self._vllm.SamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False, **self._flat
        )
        out: list[list[float]] = []
        for s in range(0, len(heads), batch_size):
            part = list(zip(heads[s : s + batch_size], tails[s : s + batch_size]))
            for (h, t), o in zip(part, self._run([h + t for h, t in part], score)):
                out.append(picked_logprobs(o.prompt_logprobs, t, start=len(h)))
        return out

    def load_weights(self, named_tensors: Iterable[tuple[str, object]]) -> None:
        """Load a transformers-style state dict (name, tensor) into the running engine, then drop the
        prefix cache (it holds keys and values of the old weights). Rotary buffers are skipped."""
        weights = [(k, v.detach()) for k, v in named_tensors if "rotary_emb" not in k]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        """Release the engine (its KV cache and, with multiprocessing on, its worker processes)."""
        engine = getattr(self, "llm", None)
        if engine is not None:
            del self.llm
            import gc

            gc.collect()


def picked_logprobs(flat, ids: list[int], start: int = 0) -> list[float]:
    """The logprob of ids[j] at position start + j of vLLM's FlatLogprobs (positions hold the
    picked token and any top-k tokens; only the picked one is read), or of the list of
    {token: Logprob} dicts that vLLM releases without FlatLogprobs return."""
    if not hasattr(flat, "start_indices"):
        return [flat[start + j][t].logprob for j, t in enumerate(ids)]
    tokens, values = flat.token_ids, flat.logprobs
    out = []
    for j, t in enumerate(ids):
        lo, hi = flat.start_indices[start + j], flat.end_indices[start + j]
        out.append(values[tokens.index(t, lo, hi)])
    return out


def _count_params(path: str) -> int:
    """Parameters in the model's safetensors files (header only, no tensor is read); 0 if unknown."""
    import json
    import struct
    from pathlib import Path

    total = 0
    for f in Path(path).glob("*.safetensors") if Path(path).is_dir() else []:
        with open(f, "rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        for key, meta in header.items():
            if key != "__metadata__":
                n = 1
                for d in meta["shape"]:
                    n *= d
                total += n
    return total
