"""The learned reward model: any transformers causal LM backbone plus a linear head read at step
boundaries. A PRM (Lightman et al. 2023, "Let's Verify Step by Step"; Wang et al. 2024,
Math-Shepherd) gives a score at the token ending each step; an ORM (Cobbe et al. 2021) is the
same network read only at the end of the trace. One forward pass scores every step of a trace.

Saved as a Hugging Face folder: the backbone (`save_pretrained`, so the folder still loads as a
causal LM), its tokenizer, `rm_head.safetensors` (weight (1, H), bias (1,)) and `rm_config.json`
({"kind", "delimiter", "format"}, and "agg": the PRM's step aggregation when training chose
one on held-out problems, see rm/heldout.py; "view": how it reads the text, rm/encode.py VIEWS,
when not plain; "readout": where step scores are read, rm/readout.py, when not the head). Loading checks the kind and the step delimiter against what
the caller expects, so a PRM is never applied to traces split another way.

Left out: value heads on several layers, LoRA, and multi-class (-1 / 0 / 1) step heads.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from ponder.rm.encode import VIEWS, Encoded, check_view, encode_trace, render_prompt
from ponder.rm.readout import check_readout
from ponder.steps import STEP_DELIMITER
from ponder.types import PonderError

CONFIG_NAME, HEAD_NAME, FORMAT = "rm_config.json", "rm_head.safetensors", 1
KINDS = ("prm", "orm")


class RewardModel(torch.nn.Module):
    def __init__(self, backbone: Any, tokenizer: Any, kind: str = "prm", delimiter: str = STEP_DELIMITER):
        super().__init__()
        if kind not in KINDS:
            raise PonderError(f"reward model kind must be one of {KINDS}, got {kind!r}")
        if tokenizer is None:
            raise PonderError("the reward model's backbone has no tokenizer; pass one or save it in the model folder")
        if not getattr(tokenizer, "is_fast", False):
            raise PonderError("the reward model needs a fast tokenizer (offset mappings locate step boundaries)")
        if not delimiter:
            raise PonderError("the reward model's step delimiter must be a non-empty string")
        self.backbone, self.tokenizer, self.kind, self.delimiter = backbone, tokenizer, kind, delimiter
        self.agg: str | None = None  # a PRM's step aggregation for its scorer (None: the scorer's default)
        self.view = "plain"  # how the model reads question and steps (rm/encode.py VIEWS)
        self.readout = "head"  # where a step's score is read (rm/readout.py READOUTS)
        self.head = new_head(backbone.config.hidden_size)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def max_length(self) -> int:
        return int(getattr(self.backbone.config, "max_position_embeddings", 0) or 1 << 30)

    def encode(self, question: str, steps: list[str], where: str = "trace") -> Encoded:
        see = VIEWS[self.view]
        prompt = render_prompt(self.tokenizer, see(question))
        return encode_trace(self.tokenizer, prompt, [see(s) for s in steps], self.delimiter, self.max_length, where)

    def forward(self, batch: list[Encoded], with_lm: bool = False, readout: str | None = None):
        """Logits of each trace's steps: a list of (S_b,) tensors, one per trace, read by `readout`
        (default the model's own: the head at each step boundary, or rm/readout.py's result_lm);
        with `with_lm` also each trace's next-token loss over its steps' tokens, (B,) (same pass)."""
        hidden, ids = self.hidden(batch)  # (B, T, H), (B, T)
        if (readout or self.readout) == "result_lm":
            from ponder.rm.readout import result_lm_logits

            out = result_lm_logits(self.backbone, self.tokenizer, hidden, ids, batch)
        else:
            logits = self.head(self._at_boundaries(hidden, batch).to(self.head.weight.dtype)).squeeze(-1)  # (sum S_b,)
            out = list(torch.split(logits, [len(e.boundaries) for e in batch]))
        return (out, self.step_lm_loss(hidden, ids, batch)) if with_lm else out

    def features(self, batch: list[Encoded]) -> torch.Tensor:
        """The backbone's last hidden state at every step boundary of the batch: (sum S_b, H)."""
        return self._at_boundaries(self.hidden(batch)[0], batch)

    def hidden(self, batch: list[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's last hidden states (B, T, H) and the right-padded ids (B, T)."""
        device = self.head.weight.device
        width = max(len(e.input_ids) for e in batch)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(batch), width), pad, dtype=torch.long, device=device)  # (B, T), right-padded
        mask = torch.zeros_like(ids)
        for b, e in enumerate(batch):
            ids[b, : len(e.input_ids)] = torch.tensor(e.input_ids, device=device)
            mask[b, : len(e.input_ids)] = 1
        return self.backbone.base_model(input_ids=ids, attention_mask=mask).last_hidden_state, ids

    @staticmethod
    def _at_boundaries(hidden: torch.Tensor, batch: list[Encoded]) -> torch.Tensor:
        """hidden (B, T, H) -> (sum S_b, H) at every step boundary."""
        rows = torch.tensor([b for b, e in enumerate(batch) for _ in e.boundaries], device=hidden.device)
        cols = torch.tensor([p for e in batch for p in e.boundaries], device=hidden.device)
        return hidden[rows, cols]

    def step_lm_loss(self, hidden: torch.Tensor, ids: torch.Tensor, batch: list[Encoded]) -> torch.Tensor:
        """Mean next-token cross-entropy over each trace's step tokens (not its prompt), read
        through the backbone's own output layer: hidden (B, T, H), ids (B, T) -> (B,)."""
        logits = self.backbone.get_output_embeddings()(hidden[:, :-1])  # (B, T-1, V)
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)
        pos = torch.arange(ids.shape[1] - 1, device=ids.device)[None, :]  # predicting token pos + 1
        lo = torch.tensor([max(e.prompt_tokens - 1, 0) for e in batch], device=ids.device)[:, None]
        hi = torch.tensor([len(e.input_ids) - 1 for e in batch], device=ids.device)[:, None]
        keep = ((pos >= lo) & (pos < hi)).to(ce.dtype)
        return (ce * keep).sum(1) / keep.sum(1).clamp(min=1)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        from ponder.models import portable_tokenizer_config

        self.backbone.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        portable_tokenizer_config(path)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}, str(path / HEAD_NAME))
        cfg = {"kind": self.kind, "delimiter": self.delimiter, "format": FORMAT}
        if self.agg is not None:
            cfg["agg"] = self.agg
        if self.view != "plain":
            cfg["view"] = self.view
        if self.readout != "head":
            cfg["readout"] = self.readout
        (path / CONFIG_NAME).write_text(json.dumps(cfg, indent=2) + "\n")


def new_head(width: int) -> torch.nn.Linear:
    """A fresh step head over hidden states of `width`: (width,) -> one logit, bias 0."""
    head = torch.nn.Linear(width, 1)
    torch.nn.init.zeros_(head.bias)
    torch.nn.init.normal_(head.weight, std=0.02)
    return head


def reinit_backbone(rm: RewardModel, seed: int, arch: dict | None = None) -> None:
    """Random weights for the backbone, drawn under `seed`: the same architecture, or its config
    with `arch`'s keys overridden (another size; the head is then made anew for its width)."""
    torch.manual_seed(seed)
    config = copy.deepcopy(rm.backbone.config)
    for k, v in (arch or {}).items():
        if not hasattr(config, k):
            raise PonderError(f"arch: the backbone's config has no {k!r}")
        setattr(config, k, v)
    fresh = type(rm.backbone)(config)
    if arch:
        rm.backbone = fresh
        rm.head = new_head(config.hidden_size)
    else:
        rm.backbone.load_state_dict(fresh.state_dict())


def from_backbone(
    backbone: str | tuple[Any, Any] = "tiny", kind: str = "prm", delimiter: str = STEP_DELIMITER
) -> RewardModel:
    """A fresh reward model on a backbone: a model name / folder (see ponder.models) or (model, tokenizer)."""
    if isinstance(backbone, tuple):
        model, tok = backbone
    else:
        from ponder.models.load import load_causal_lm

        model, tok = load_causal_lm(backbone)
    return RewardModel(model, tok, kind=kind, delimiter=delimiter)


def load_reward_model(path: str | Path, kind: str | None = None, delimiter: str | None = None) -> RewardModel:
    """Load a saved PRM/ORM folder, or a `ponder train prm|orm` run folder (its best held-out
    model, run.out/best, when training kept one, else its newest intact checkpoint); `kind` /
    `delimiter` (when given) must match what was saved."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.models import check_model_dir

    path = Path(path)
    if (path / "best" / CONFIG_NAME).is_file():  # a training run's folder that kept its best model
        path = path / "best"
    elif (path / "latest").is_file():  # a training run's folder: its newest intact checkpoint
        from ponder.train.checkpoint import find_resume_point

        path = find_resume_point(path)
    if not (path / CONFIG_NAME).is_file():
        raise PonderError(
            f"{path} is not a ponder reward model folder (no {CONFIG_NAME}); train one with `ponder train prm`"
        )
    check_model_dir(path)
    cfg = json.loads((path / CONFIG_NAME).read_text())
    if kind is not None and cfg["kind"] != kind:
        raise PonderError(f"{path} holds an {cfg['kind'].upper()}, not an {kind.upper()}")
    if delimiter is not None and cfg["delimiter"] != delimiter:
        raise PonderError(
            f"{path} was trained with step delimiter {cfg['delimiter']!r} but the policy splits steps at "
            f"{delimiter!r}; use a PRM trained on this policy's step format"
        )
    rm = RewardModel(
        AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), cfg["kind"], cfg["delimiter"]
    )
    rm.head.load_state_dict(load_file(str(path / HEAD_NAME)))
    rm.agg = cfg.get("agg")
    rm.view, rm.readout = cfg.get("view", "plain"), cfg.get("readout", "head")
    check_view(rm.view)
    check_readout(rm.readout)
    return rm.eval()
