"""The vLLM backend against the hf backend on the built-in tiny reasoner (`pytest -m vllm`).

Skipped when vLLM is not installed (`bash scripts/setup.sh --vllm`). One engine per module: it
takes ~15 s to start on CPU. Both backends run in fp32 on CPU, where the tiny reasoner's greedy
tokens agree exactly; logprobs agree with a full transformers forward to 1e-4 (different kernels,
same arithmetic up to float rounding).
"""

import os

import pytest
import torch

from ponder.types import SamplingParams

pytestmark = pytest.mark.vllm

for key, value in {"VLLM_HOST_IP": "127.0.0.1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}.items():
    os.environ.setdefault(key, value)

LOGPROB_TOL = 1e-4
TASK_NAMES = ("arithmetic", "countdown", "equations", "knights")


@pytest.fixture(scope="module")
def engines():
    pytest.importorskip("vllm")
    from ponder.gen import load_generator

    torch.set_num_threads(1)
    vgen = load_generator("tiny", backend="vllm")
    yield vgen, load_generator("tiny")
    vgen.close()


def _forward_logprobs(hgen, prompt: str, token_ids: list[int]) -> list[float]:
    head = hgen.tokenizer(prompt, add_special_tokens=False).input_ids
    with torch.no_grad():
        logp = torch.log_softmax(hgen.model(torch.tensor([head + token_ids])).logits[0].float(), dim=-1)
    return [logp[len(head) - 1 + i, t].item() for i, t in enumerate(token_ids)]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_greedy_equals_hf_token_for_token(engines, task):
    from ponder.tasks import make_problems

    vgen, hgen = engines
    prompts = [vgen.render(p.question) for p in make_problems(task, 20, seed=7)]
    params = SamplingParams(n=1, temperature=0, max_tokens=200)
    ours, theirs = vgen.generate(prompts, params), hgen.generate(prompts, params)
    for a, b in zip(ours, theirs):
        assert a[0].token_ids == b[0].token_ids
        assert (a[0].text, a[0].finish_reason) == (b[0].text, b[0].finish_reason)
        assert a[0].prompt_tokens == b[0].prompt_tokens


def test_n_samples_distinct_and_repeatable(engines):
    vgen, _ = engines
    prompt = vgen.render("countdown 3 7 12 -> 45")
    params = SamplingParams(n=6, temperature=1.0, max_tokens=60, seed=3)
    out = vgen.generate([prompt, prompt], params)
    assert [len(g) for g in out] == [6, 6]
    texts = [c.text for g in out for c in g]
    assert len(set(texts)) > 6  # the same prompt twice in one call still gets fresh samples
    assert [c.text for c in vgen.generate([prompt, prompt], params)[0]] == texts[:6]
    other = vgen.generate([prompt], SamplingParams(n=6, temperature=1.0, max_tokens=60, seed=4))[0]
    assert [c.text for c in other] != texts[:6]


def test_a_seeded_prompt_samples_the_same_alone_and_among_others(engines):
    from ponder.tasks import make_problems

    vgen, _ = engines
    prompts = [vgen.render(p.question) for p in make_problems("countdown", 6, seed=3)]
    params = SamplingParams(n=4, temperature=1.0, max_tokens=60, seed=5)
    together = vgen.generate(prompts, params)
    seeds = params.prompt_seeds(len(prompts))  # what the int seed gives each prompt
    for i in (0, 3, 5):
        alone = vgen.generate([prompts[i]], SamplingParams(n=4, temperature=1.0, max_tokens=60, seed=(seeds[i],)))
        assert [c.token_ids for c in alone[0]] == [c.token_ids for c in together[i]]


def test_seeded_call_larger_than_one_scheduler_step(engines):
    vgen, _ = engines  # > 4096 prompt tokens: vLLM's CPU build crashed when it split a seeded prefill
    prompts = [vgen.render(f"Q:{i}+{i * 7}*{i % 9}=") for i in range(320)]
    out = vgen.generate(prompts, SamplingParams(n=1, temperature=1.0, max_tokens=4, seed=0), ignore_eos=True)
    assert sum(len(e) for e in vgen._encode(prompts)) > 4096 and all(len(g[0].token_ids) == 4 for g in out)


def test_stop_strings_end_steps_exactly(engines):
    vgen, hgen = engines
    prompts = [vgen.render(q) for q in ("countdown 3 7 12 -> 45", "countdown 2 9 25 -> 52", "Q:12+34*2=")]
    out = vgen.generate(prompts, SamplingParams(n=8, temperature=1.0, max_tokens=120, stop=("\n", "no"), seed=0))
    stops = 0
    for group in out:
        for c in group:
            if c.finish_reason == "stop":
                stops += 1
                ends = [s for s in ("\n", "no") if c.text.endswith(s)]
                assert ends, c.text
                cut = min(c.text.find(s) + len(s) for s in ("\n", "no") if s in c.text)
                assert cut == len(c.text)  # the first stop string ends the text
                assert hgen._decode(c.token_ids).startswith(c.text)
    assert stops > 10
    greedy = SamplingParams(temperature=0, max_tokens=120, stop=("\n",))
    step = prompts[:2]
    for _ in range(3):  # step by step, greedy: the same steps as the hf backend
        a, b = vgen.generate(step, greedy), hgen.generate(step, greedy)
        assert [(g[0].text, g[0].token_ids) for g in a] == [(g[0].text, g[0].token_ids) for g in b]
        step = [p + g[0].text for p, g in zip(step, a)]


def test_stop_token_ids_equal_the_text_stop_check(engines, monkeypatch):
    """A one-character stop goes to vLLM as stop token ids with detokenizing off; the completions
    (text, ids, logprobs, finish) equal those of vLLM's own text-based stop check, seeds fixed."""
    vgen, _ = engines
    stops = ("\n",)
    assert vgen.stop_ids(stops) and vgen.stop_ids(("\n", "no")) is None
    fast = vgen._sampling(SamplingParams(stop=stops), False, vgen.stop_ids(stops), 0)
    assert not fast.detokenize and not fast.stop and fast.stop_token_ids
    prompts = [vgen.render(q) for q in ("countdown 3 7 12 -> 45", "countdown 2 9 25 -> 52", "Q:12+34*2=")]
    params = SamplingParams(n=6, temperature=1.0, max_tokens=60, stop=stops, seed=11)
    ours = vgen.generate(prompts, params)
    monkeypatch.setattr(vgen, "stop_ids", lambda stops: None)
    text_checked = vgen.generate(prompts, params)
    key = [[(c.text, c.token_ids, c.logprobs, c.finish_reason) for c in g] for g in ours]
    assert key == [[(c.text, c.token_ids, c.logprobs, c.finish_reason) for c in g] for g in text_checked]
    assert sum(c.finish_reason == "stop" for g in ours for c in g) > 6


def test_sampled_logprobs_match_hf_forward(engines):
    vgen, hgen = engines
    prompts = [vgen.render(q) for q in ("countdown 3 7 12 -> 45", "Q:7*8-19=")]
    out = vgen.generate(prompts, SamplingParams(n=4, temperature=0.7, top_k=8, max_tokens=80, seed=1))
    for prompt, group in zip(prompts, out):
        for c in group:
            assert len(c.logprobs) == len(c.token_ids)
            assert c.logprobs == pytest.approx(_forward_logprobs(hgen, prompt, c.token_ids), abs=LOGPROB_TOL)
    conts = [out[0][0].text, "<think>7*8=56"]
    assert vgen.logprobs(prompts, conts) == [pytest.approx(x, abs=LOGPROB_TOL) for x in hgen.logprobs(prompts, conts)]


def test_prefix_cache_serves_repeated_prefixes(engines):
    vgen, _ = engines
    trace = vgen.render("countdown 3 7 12 -> 45") + "<think>12-7=5,5+3=8 no\n12+3=15,15+15=30 no\n12*3=36,36+7=43 no\n"
    before = dict(vgen.prefix_stats)
    for seed in range(3):
        vgen.generate([trace], SamplingParams(n=2, temperature=1.0, max_tokens=10, seed=seed))
    cached = vgen.prefix_stats["cached_tokens"] - before["cached_tokens"]
    assert cached >= 2 * 64  # the 2nd and 3rd calls reuse at least two 32-token blocks each


def test_tail_tokens_are_what_each_sample_prefills_from_a_cached_prompt(engines):
    vgen, _ = engines
    from benchmarks.vllm_engine_work import delta, engine_work

    trace = vgen.render("countdown 4 9 11 -> 35") + "<think>11-4=7,7*9=63 no\n9+11=20,20+4=24 no\n"
    length, block = len(vgen._encode([trace])[0]), vgen.block_size
    tail = length - (length - 1) // block * block
    params = SamplingParams(n=3, temperature=1.0, max_tokens=12, seed=5)
    vgen.generate([trace], params)  # caches the prompt's whole blocks
    stats, work = dict(vgen.prefix_stats), dict(engine_work(vgen))
    out = vgen.generate([trace], params)
    assert vgen.prefix_stats["tail_tokens"] - stats["tail_tokens"] == 3 * tail
    fed = sum(len(c.token_ids) - 1 for c in out[0])  # every sampled token but the last goes back in
    assert delta(engine_work(vgen), work)["model_tokens"] == 3 * tail + fed


def test_weights_pushed_into_running_engine(engines):
    vgen, hgen = engines
    from ponder.gen.hf import HFGenerator

    prompts = [vgen.render(q) for q in ("countdown 3 7 12 -> 45", "Q:12+34=")]
    greedy = SamplingParams(temperature=0, max_tokens=40)
    before = [g[0].token_ids for g in vgen.generate(prompts, greedy)]
    model = type(hgen.model).from_pretrained(hgen.model.config._name_or_path).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    try:
        vgen.load_weights(model.state_dict().items())
        after = [g[0].token_ids for g in vgen.generate(prompts, greedy)]
        expected = [g[0].token_ids for g in HFGenerator.from_model(model, hgen.tokenizer).generate(prompts, greedy)]
        assert after != before and after == expected
    finally:
        vgen.load_weights(hgen.model.state_dict().items())
    assert [g[0].token_ids for g in vgen.generate(prompts, greedy)] == before


@pytest.mark.parametrize("strategy", ["beam", "dvts", "mcts", "refine"])
def test_search_runs_on_vllm(engines, strategy):
    from ponder.search import run_search
    from ponder.tasks import make_problems
    from ponder.verify import verify

    vgen, _ = engines
    problems = make_problems("arithmetic", 4, seed=1)
    results = run_search(strategy, problems, vgen, budget=4, scorer="check", seed=0)
    assert len(results) == 4 and all(r.cost.generated_tokens > 0 and r.tree for r in results)
    scores = verify(problems, [r.response for r in results])
    assert sum(s.parsed for s in scores) >= 2  # the tiny reasoner writes answers on its own tasks


def test_gpu_check_vllm_rows_dry_run(tmp_path):
    pytest.importorskip("vllm")
    import json

    from benchmarks.gpu_check import main

    main(["--dry-run", "--out", str(tmp_path / "g.json")])
    rec = json.loads((tmp_path / "g.json").read_text())["vllm"]
    assert rec["sample_vllm"]["generated_tokens"] == rec["sample_hf"]["generated_tokens"] == 4 * 16
    assert rec["beam_vllm"]["problems"] == 4


def test_prefix_benchmark_runs_and_caching_changes_speed_only(tmp_path):
    pytest.importorskip("vllm")
    from benchmarks.vllm_prefix import main

    out = main(["--n", "3", "--repeats", "1", "--shots", "0", "2", "--out", str(tmp_path / "p.json")])
    for setting in out["settings"]:
        on, off = setting["runs"]["on"][0], setting["runs"]["off"][0]
        assert on["prompt_tokens_cached"] > 0 and off["prompt_tokens_cached"] == 0
        assert on["generated_tokens"] == off["generated_tokens"] > 0  # same seeds, same samples
    short, long = out["settings"]
    assert long["prompt_tokens_first_problem"] > short["prompt_tokens_first_problem"] + 40


def test_options_benchmark_block_size_reaches_the_engine(tmp_path):
    pytest.importorskip("vllm")
    from benchmarks.vllm_options import main

    out = main(["--sets", "b64:block_size=64", "--n", "2", "--budget", "4", "--out", str(tmp_path / "o.json")])
    (rec,) = out["sets"]
    assert rec["options"] == {"block_size": 64} and rec["block_size"] == 64
    on, off = rec["runs"]["on"][0], rec["runs"]["off"][0]
    assert on["generated_tokens"] == off["generated_tokens"] > 0 and off["prompt_tokens_cached"] == 0
