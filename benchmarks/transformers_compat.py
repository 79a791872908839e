"""Does this transformers version run ponder? Run it with the interpreter of a venv that holds
the version under test (ponder imported from the working tree):

    PYTHONPATH=. /tmp/tfv/bin/python benchmarks/transformers_compat.py >> benchmarks/results/transformers_compat.jsonl

It loads both shipped tokenizers with AutoTokenizer (and checks their encodings and chat
template), loads both shipped models, and decodes 4 arithmetic problems greedily on the lean
decoder and on the generic loop (the model's own forward and cache), with every FutureWarning
recorded. One JSON line out: the version, what worked, a hash of the greedy texts (equal across
versions = same outputs) and the deprecation warnings seen. Not a test: it needs other venvs.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import warnings


def check() -> dict:
    import torch
    import transformers
    from transformers import AutoTokenizer

    from ponder.gen.hf import HFGenerator
    from ponder.models import BUILTIN
    from ponder.tasks import make_problems
    from ponder.types import SamplingParams

    torch.set_num_threads(1)
    out: dict = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    problems = make_problems("arithmetic", 4, level=2, seed=0)
    texts = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for name, path in BUILTIN.items():
            tok = AutoTokenizer.from_pretrained(str(path))
            ids = tok("<think>12+3</think>", add_special_tokens=False)["input_ids"]
            assert ids == [100, 5, 6, 76, 7, 101], ids  # the R1 tags are single tokens
            gen = HFGenerator(str(path), device="cpu", name=name)
            prompts = [gen.render(p.question) for p in problems]
            for fast in (None, False):
                gen.fast = fast
                texts += [g[0].text for g in gen.generate(prompts, SamplingParams(temperature=0, max_tokens=64))]
    out["ok"] = True
    out["greedy_sha1"] = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:12]
    out["fast_equals_generic"] = texts[0:4] == texts[4:8] and texts[8:12] == texts[12:16]
    out["future_warnings"] = sorted({str(w.message)[:160] for w in seen if issubclass(w.category, FutureWarning)})
    return out


if __name__ == "__main__":
    try:
        print(json.dumps(check()))
    except Exception as e:  # the point is to record how an old version fails
        import transformers

        print(
            json.dumps(
                {"transformers": transformers.__version__, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
            )
        )
        sys.exit(1)
