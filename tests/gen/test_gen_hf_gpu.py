"""The hf generator on CUDA in bf16 (skipped without a GPU; run with `pytest -m gpu tests/gen`)."""

import pytest
import torch

from ponder.gen.hf import HFGenerator
from ponder.types import SamplingParams

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_bf16_fast_path_logprobs_match_full_forward(llama, tmp_path):
    model, tok = llama
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    gen = HFGenerator(str(tmp_path), device="cuda")
    assert gen.model.dtype == torch.bfloat16 and gen.device.type == "cuda"
    prompts = [gen.render(q) for q in ["1+2=", "12*34-5=", "7"]]
    out = gen.generate(prompts, SamplingParams(n=4, temperature=1.0, max_tokens=20, seed=0, stop=("a",)))
    for prompt, group in zip(prompts, out):
        head = tok(prompt, add_special_tokens=False).input_ids
        for c in group:
            ids = torch.tensor([head + c.token_ids], device="cuda")
            with torch.no_grad():
                logp = torch.log_softmax(gen.model(ids).logits[0].float(), dim=-1)
            expected = [logp[len(head) - 1 + i, t].item() for i, t in enumerate(c.token_ids)]
            assert c.logprobs == pytest.approx(expected, abs=0.1)  # bf16: op order differs from HF's
            assert c.finish_reason != "stop" or c.text.endswith("a")
