"""Process supervision in GRPO (algo.process_coef): per-token advantages = outcome advantage +
coef x DeepSeekMath's process advantages from a PRM's step scores, through the micro-batches and
the policy losses."""

import pytest
import torch
from train_fixtures import accuracy_is_one, answer_is_one, grpo_config, small_model

from ponder.gen.fake import FakeGenerator
from ponder.gen.groups import Groups
from ponder.train.batch import encode_example
from ponder.train.grpo import train_grpo
from ponder.train.policy_losses import POLICY_LOSSES
from ponder.train.policy_update import make_micro_batches
from ponder.train.process import char_to_token, process_advantages, with_process
from ponder.types import Completion, PonderError, Problem


class StepStub:
    """A process reward standing in for a PRM: 0.9 for a step holding '=1', else 0.1."""

    def step_scores(self, prompts, completions, **columns):
        out = []
        for text in completions:
            steps = [s + "\n" for s in text.split("\n")[:-1]] + [text.split("\n")[-1]]
            out.append((steps, [0.9 if "=1" in s else 0.1 for s in steps]))
        return out


def script(prompt: str, i: int) -> str:
    return f"<think>{i}+0={i}\n{i}={i}</think>\n<answer>{i}</answer>"


def test_with_process_adds_group_normalised_step_advantages_per_token():
    _, tok = small_model()
    p = Problem(id="p", task="arithmetic", question="1+0")
    texts = [script("", 0), script("", 1), script("", 2)]
    groups = Groups([p], [[Completion(text=t, token_ids=[], finish_reason="eos") for t in texts]])
    seqs = [encode_example(tok, "q\n", t, eos=True) for t in texts]
    out = with_process(torch.tensor([0.5, -0.5, 0.0]), StepStub(), tok, groups, seqs, coef=2.0)  # (3, R)
    # by hand: each step's last character -> the token holding it (by decoding growing prefixes)
    scored = StepStub().step_scores([], texts)
    ends = []
    for t, (steps, _) in zip(texts, scored):
        ids = tok.encode(t, add_special_tokens=False)
        reach = [len(tok.decode(ids[: i + 1])) for i in range(len(ids))]  # chars covered after token i
        ends.append([next(i for i, r in enumerate(reach) if r > len("".join(steps[: j + 1])) - 1)
                     for j in range(len(steps))])  # fmt: skip
    lengths = [len(tok.encode(t, add_special_tokens=False)) + 1 for t in texts]  # + eos
    expected = process_advantages([sc for _, sc in scored], ends, lengths)
    assert out.shape == (3, max(lengths))
    assert torch.allclose(out, torch.tensor([[0.5], [-0.5], [0.0]]) + 2.0 * expected)
    # text 1 holds '=1' in its steps: its early tokens get more advantage than text 0's
    assert out[1, 0] - (-0.5) > out[0, 0] - 0.5
    assert char_to_token(tok, "<think>1\n")(8) == 2  # "<think>" is one token of the tiny tokenizer


def test_per_token_advantages_reach_the_loss_aligned_with_the_mask():
    _, tok = small_model()
    seqs = [encode_example(tok, "qq\n", "abc", eos=False), encode_example(tok, "q\n", "de", eos=False)]
    adv = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])  # response-aligned (N, R)
    (mb,) = make_micro_batches(seqs, adv, torch.ones(2), micro_batch=4, pad_id=tok.pad_token_id)
    rows = {int(r): i for i, r in enumerate(mb.rows)}
    assert mb.adv.shape == mb.mask.shape
    assert mb.adv[rows[0]][mb.mask[rows[0]] > 0].tolist() == [1.0, 2.0, 3.0]
    assert mb.adv[rows[1]][mb.mask[rows[1]] > 0].tolist() == [4.0, 5.0]
    # a per-token advantage that is constant over a row gives the per-sequence loss
    logp, old = torch.randn(2, 4), torch.randn(2, 4)
    for name in ("ppo", "gspo", "cispo"):
        fn = POLICY_LOSSES.get(name)
        a = torch.tensor([0.7, -1.3])
        one = fn(logp, old, a, torch.ones(2, 4), eps_low=0.2, eps_high=0.28, dual_clip=3.0)
        per_tok = fn(
            logp, old, a.unsqueeze(1).expand(2, 4), torch.ones(2, 4), eps_low=0.2, eps_high=0.28, dual_clip=3.0
        )
        assert torch.allclose(one[0], per_tok[0]) and torch.equal(one[1], per_tok[1]), name


def test_grpo_process_switch_gives_per_token_advantages(tmp_path, monkeypatch):
    from ponder.train import grpo as grpo_mod

    seen = []
    real = grpo_mod.policy_update.update
    monkeypatch.setattr(grpo_mod.policy_update, "update", lambda *a, **k: seen.append(a[5]) or real(*a, **k))
    monkeypatch.setattr(grpo_mod, "get_reward", lambda name, **kw: StepStub() if name == "prm" else None)
    model, tok = small_model()
    cfg = grpo_config(tmp_path, steps=1, prm="stub", **{"algo.advantage": "zero", "algo.process_coef": 1.0})
    train_grpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(script), reward_fn=answer_is_one,
               accuracy_fn=accuracy_is_one)  # fmt: skip
    (adv,) = seen
    assert adv.dim() == 2 and adv.shape[0] == 8  # 2 prompts x 4 samples, one advantage per token
    assert adv.abs().sum() > 0  # outcome advantage is zero: all of it is process supervision
    cfg = grpo_config(tmp_path / "b", steps=1)
    train_grpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(script), reward_fn=answer_is_one,
               accuracy_fn=accuracy_is_one)  # fmt: skip
    assert seen[1].dim() == 1  # the switch off: one advantage per response


def test_process_switch_needs_a_prm_folder(tmp_path):
    with pytest.raises(PonderError, match="prm=FOLDER"):
        grpo_config(tmp_path, **{"algo.process_coef": 1.0})
