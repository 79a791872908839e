"""The transformers backend: any causal LM from a hub id or a local folder, on CPU or CUDA.

`HFGenerator.generate` left-pads the prompts, encodes each prompt once, shares its KV cache with
its n samples, and samples all rows together with temperature / top-k / top-p or greedily, with
per-row stop strings, EOS handling and model logprobs. Llama-style models (Llama, Qwen2,
Mistral) run on the lean static-cache decoder in `fastllama.py`; every other architecture runs
on its own forward and cache (`hfloop.py`). `logprobs()` scores given continuations
teacher-forced (for scorers). Weights are read live at every call, so a model trained in place
between calls is always the one sampled. On the fast path, a call with stop strings keeps the rows that
ended at one in the prefix cache (the next step of a trace prefills one token), and the static
cache's memory is reused across calls (`gen/workspace.py`).

Conventions: Completion.text is decoded without dropping special tokens (so prompt + text
re-tokenizes to what the model saw) except a final EOS, which stays in token_ids/logprobs but not
in text. Each row draws its own random numbers from its prompt's seed and its copy index
(gen/rng.py), so a seeded prompt samples the same tokens whatever else is in its call and
however the call is chunked (the compiled kernel's logits do not depend on the batch either;
on the eager and generic paths float rounding from another batch shape can move a draw, only
when it falls within ~1e-7 of a token's boundary). Left out: beam search, repetition penalties,
per-prompt sampling parameters, speculative decoding, sharing the prompt cache without copying it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ponder.gen.fast_weights import PackedWeights
from ponder.gen.loop import Row, sample_rows
from ponder.gen.prefix_cache import PrefixCache, RowSaver
from ponder.gen.rng import row_keys
from ponder.gen.stops import StopChecker, completion_text
from ponder.gen.text import decode, empty_completions, encode, render_prompt
from ponder.gen.workspace import Workspace
from ponder.types import Completion, PonderError, SamplingParams, fresh_seeds

log = logging.getLogger(__name__)


@contextmanager
def sampling_mode(model) -> Iterator[None]:
    """No autograd and no dropout while sampling; a model being trained goes back to train mode.
    A model already in eval mode is left alone (switching walks every module: ~2 ms a call)."""
    was_training = model.training
    switch = was_training or any(m.training for m in model.modules())
    if switch:
        model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if switch:
            model.train(was_training)


class HFGenerator:
    def __init__(
        self,
        path_or_hub_id: str,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        name: str | None = None,
    ):
        from transformers.utils import logging as hf_logging

        from ponder.models.load import load_causal_lm

        hf_logging.disable_progress_bar()  # a loading bar per model load drowns the CLI's own output
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        dtype = dtype or (torch.bfloat16 if str(device).startswith("cuda") else torch.float32)
        model, tokenizer = load_causal_lm(path_or_hub_id, dtype=dtype, device=device)
        model.eval()
        self._setup(model, tokenizer, name or str(path_or_hub_id))

    @classmethod
    def from_model(cls, model, tokenizer, device: str | None = None) -> HFGenerator:
        """Wrap a live model (e.g. one being trained): its parameters are read at every call."""
        self = cls.__new__(cls)
        if device is not None:
            model = model.to(device)
        self._setup(model, tokenizer, getattr(model.config, "_name_or_path", "") or model.config.model_type)
        return self

    def _setup(self, model, tokenizer, name: str) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.name = f"hf:{name}"
        self.n_params = sum(p.numel() for p in model.parameters())
        self.max_rows = 256  # sequences decoded together; larger calls run in chunks of prompts
        self.fast: bool | None = None  # None: fast path where supported; False: always the generic loop
        self.prefix_cache = PrefixCache()  # prompt K/V reused by later prompts that extend them (fast path)
        self._packed = PackedWeights()  # the fast path's weight copies, kept while the weights do not change
        self.workspace = Workspace()  # the fast path's static cache memory, reused across calls
        self._pieces: list[str] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def eos_ids(self) -> set[int]:
        ids = set()
        for src in (self.model.config, getattr(self.model, "generation_config", None), self.tokenizer):
            value = getattr(src, "eos_token_id", None)
            ids |= set(value) if isinstance(value, list | tuple) else ({value} if value is not None else set())
        return ids

    def render(self, question: str) -> str:
        return render_prompt(self.tokenizer, question)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode(self.tokenizer, texts)

    def _decode(self, ids: list[int]) -> str:
        return decode(self.tokenizer, ids)

    def _left_pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids and bool mask, real tokens right-aligned."""
        T = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(seqs), T), pad, dtype=torch.long)
        mask = torch.zeros(len(seqs), T, dtype=torch.bool)
        for i, s in enumerate(seqs):
            if not s:
                raise PonderError("a prompt encodes to zero tokens; give every prompt some text")
            ids[i, T - len(s) :] = torch.tensor(s)
            mask[i, T - len(s) :] = True
        return ids.to(self.device), mask.to(self.device)

    def _decoder(self, total_len: int):
        from ponder.gen.fastllama import FastLlama, unsupported_reason
        from ponder.gen.hfloop import HFLoop

        reason = "disabled" if self.fast is False else unsupported_reason(self.model, total_len)
        if reason is None:
            return FastLlama(self.model, self.prefix_cache, self._packed, self.workspace)
        log.debug("generic decode loop: %s", reason)
        return HFLoop(self.model)

    def _stop_checker(self, stops: tuple[str, ...]) -> StopChecker | None:
        if not stops:
            return None
        if self._pieces is None:
            vocab = self.model.get_output_embeddings().weight.shape[0]
            known = min(vocab, len(self.tokenizer))
            pieces = self.tokenizer.batch_decode(
                [[i] for i in range(known)], skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
            self._pieces = pieces + [""] * (vocab - known)  # rows of an lm_head padded past the tokenizer
        return StopChecker(self.tokenizer, stops, self._pieces, self.device)

    def _completion(self, row: Row, params: SamplingParams, prompt_len: int) -> Completion:
        ids = row.token_ids
        return Completion(
            text=completion_text(self._decode, ids, row.finish_reason, params.stop),
            token_ids=list(ids),
            logprobs=list(row.logprobs) if params.logprobs else None,
            finish_reason=row.finish_reason,
            prompt_tokens=prompt_len,
            entropies=row.entropies,
            certainties=row.certainties,
        )

    def _prompt_seeds(self, params: SamplingParams, n_prompts: int) -> tuple[int, ...] | None:
        """Each prompt's seed (its rows' keys derive from it, gen/rng.py); None when greedy."""
        if params.temperature == 0:
            return None
        return params.prompt_seeds(n_prompts) or fresh_seeds(n_prompts)

    def _eos_table(self, eos_ids: set[int]) -> torch.Tensor:
        vocab = self.model.get_output_embeddings().weight.shape[0]
        table = torch.zeros(vocab, dtype=torch.bool, device=self.device)  # (V,)
        table[[i for i in eos_ids if i < vocab]] = True
        return table

    def generate(
        self, prompts: list[str], params: SamplingParams, *, ignore_eos: bool = False
    ) -> list[list[Completion]]:
        """params.n completions per prompt, in prompt order. ignore_eos (benchmarks) decodes on past EOS."""
        encoded = self._encode(prompts)
        if params.max_tokens == 0:
            return empty_completions(encoded, params)
        eos_ids = set() if ignore_eos else self.eos_ids
        loop_args = dict(
            copies=params.n,
            max_new=params.max_tokens,
            temperature=params.temperature,
            top_k=params.top_k,
            top_p=params.top_p,
            eos_ids=eos_ids,
            eos_table=self._eos_table(eos_ids),
            stop=self._stop_checker(params.stop),
            check_every=1 if self.device.type == "cpu" else 8,  # host syncs are free on CPU only
            token_stats=params.token_stats,
        )
        seeds = self._prompt_seeds(params, len(encoded))
        chunk = max(1, self.max_rows // params.n)
        out: list[list[Completion]] = []
        with sampling_mode(self.model):
            for start in range(0, len(encoded), chunk):
                part = encoded[start : start + chunk]
                ids, mask = self._left_pad(part)
                decoder = self._decoder(ids.shape[1] + params.max_tokens)
                saver = self._row_saver(decoder, part, params)
                keys = None if seeds is None else row_keys(seeds[start : start + chunk], params.n, self.device)
                try:
                    rows = sample_rows(decoder, ids, mask, saver=saver, keys=keys, **loop_args)
                finally:
                    getattr(decoder, "finish", lambda: None)()  # the kernel cache's blocks go back
                for i, e in enumerate(part):
                    group = rows[i * params.n : (i + 1) * params.n]
                    out.append([self._completion(r, params, len(e)) for r in group])
        return out

    def _row_saver(self, decoder, prompts: list[list[int]], params: SamplingParams) -> RowSaver | None:
        """With stop strings (a step of a trace), rows that end at one go into the prefix cache."""
        if not params.stop or self.prefix_cache is None or not hasattr(decoder, "row_kv"):
            return None
        return RowSaver(self.prefix_cache, prompts, params.n)

    def logprobs(self, prompts: list[str], continuations: list[str], batch_size: int = 64) -> list[list[float]]:
        """Teacher-forced model logprobs (temperature 1) of each continuation's tokens given its prompt."""
        if len(prompts) != len(continuations):
            raise PonderError(f"logprobs: {len(prompts)} prompts but {len(continuations)} continuations")
        heads, tails = self._encode(prompts), self._encode(continuations)
        if not all(heads):
            raise PonderError("logprobs: a prompt encodes to zero tokens; the first token has nothing to condition on")
        out: list[list[float]] = []
        with sampling_mode(self.model):
            for s in range(0, len(heads), batch_size):
                out += self._score(heads[s : s + batch_size], tails[s : s + batch_size])
        return out

    def _score(self, heads: list[list[int]], tails: list[list[int]]) -> list[list[float]]:
        ids, mask = self._left_pad([h + t for h, t in zip(heads, tails)])
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=ids, attention_mask=mask.long(), position_ids=pos).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
        T = ids.shape[1]
        return [logp[i, T - 1 - len(t) :].tolist() if t else [] for i, t in enumerate(tails)]
