"""The fast decode path on the shipped tiny reasoner: whole greedy responses on every built-in task
equal transformers' `generate()` token for token, with and without the prompt KV cache, batched
under left padding and one prompt at a time, on the compiled decode kernel and the eager step.
Skips when the trained weights are absent."""

import pytest
import torch

from ponder.gen import load_generator
from ponder.models import TINY_DIR
from ponder.tasks import TASKS, make_problems
from ponder.types import SamplingParams

pytestmark = pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights absent")
MAX_NEW = 200  # Countdown traces of the tiny reasoner reach ~170 tokens


@pytest.fixture(scope="module")
def tiny_and_prompts():
    torch.set_num_threads(1)
    gen = load_generator("tiny", device="cpu")
    prompts = [gen.render(p.question) for name in TASKS.names() for p in make_problems(name, 2, seed=11)]
    return gen, prompts


def reference(gen, prompts: list[str]) -> list[list[int]]:
    """transformers' greedy tokens, cut after the first EOS (generate() pads finished rows)."""
    tok = gen.tokenizer
    enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
    with torch.inference_mode():
        out = gen.model.generate(**enc, do_sample=False, max_new_tokens=MAX_NEW, pad_token_id=tok.pad_token_id)
    rows = []
    for ids in out[:, enc.input_ids.shape[1] :].tolist():
        end = next((i + 1 for i, t in enumerate(ids) if t in gen.eos_ids), len(ids))
        rows.append(ids[:end])
    return rows


@pytest.mark.parametrize("cache", [True, False])
def test_greedy_responses_on_every_task_equal_generate(tiny_and_prompts, cache, decode_step):
    gen, prompts = tiny_and_prompts
    from ponder.gen.prefix_cache import PrefixCache

    gen.prefix_cache = PrefixCache() if cache else None
    params = SamplingParams(temperature=0, max_tokens=MAX_NEW)
    if cache:  # warm the cache with each prompt's first half so the second call reuses prefixes
        gen.generate([p[: len(p) // 2] for p in prompts], SamplingParams(temperature=0, max_tokens=1))
    ours = [g[0].token_ids for g in gen.generate(prompts, params)]
    if cache:
        assert gen.prefix_cache.hits > 0
    assert ours == reference(gen, prompts)


def test_one_prompt_at_a_time_equals_generate(tiny_and_prompts, decode_step):
    gen, prompts = tiny_and_prompts
    gen.prefix_cache = None
    some = prompts[::3]
    ours = [gen.generate([p], SamplingParams(temperature=0, max_tokens=MAX_NEW))[0][0].token_ids for p in some]
    assert ours == [reference(gen, [p])[0] for p in some]
