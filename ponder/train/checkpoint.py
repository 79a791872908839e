"""Checkpoints that a killed run resumes from exactly.

A checkpoint is a Hugging Face model folder (`config.json`, `model.safetensors`, tokenizer files:
loadable with `from_pretrained` and by `ponder solve --model`) plus `trainer_state.pt`
(optimiser, scheduler, torch/python/numpy RNG states) and `trainer_state.json` (step, data
position and whatever the loop needs to continue, human-readable). It is written to a temporary
folder and renamed, and `latest` (a one-line file) is updated last, so a run killed at any
moment leaves the previous checkpoint intact. Loops are deterministic given the step (sampling
seeds derive from the run seed and the step), so a resumed run reaches the same weights as an
unbroken one.

Left out: sharded/distributed checkpoints, keeping only the last k checkpoints.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from ponder.io import atomic_write, write_json

STATE_PT, STATE_JSON, LATEST = "trainer_state.pt", "trainer_state.json", "latest"


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    try:
        import numpy as np

        state["numpy"] = np.random.get_state()
    except ImportError:
        pass
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])


def save_checkpoint(out: str | Path, step: int, model, tokenizer, opt, sched, state: dict[str, Any]) -> Path:
    """Write out/ckpt-STEP atomically and point out/latest at it."""
    out = Path(out)
    final = out / f"ckpt-{step:06d}"
    tmp = out / f".tmp-ckpt-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    blob = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": _rng_state()}
    torch.save(blob, tmp / STATE_PT)
    write_json(tmp / STATE_JSON, {"step": step, **state})
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    with atomic_write(out / LATEST) as f:
        f.write(final.name + "\n")
    return final


def latest_checkpoint(out: str | Path) -> Path | None:
    p = Path(out) / LATEST
    if not p.is_file():
        return None
    ck = Path(out) / p.read_text().strip()
    return ck if (ck / STATE_JSON).is_file() else None


def load_checkpoint(ckpt: str | Path, model, opt, sched) -> dict[str, Any]:
    """Restore weights, optimiser, scheduler and RNG in place; returns the json state (with step)."""
    from safetensors.torch import load_file

    ckpt = Path(ckpt)
    weights = load_file(str(ckpt / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if unexpected or [k for k in missing if k not in tied and "lm_head" not in k]:
        raise RuntimeError(f"checkpoint {ckpt} does not match the model: missing {missing}, unexpected {unexpected}")
    blob = torch.load(ckpt / STATE_PT, weights_only=False)
    opt.load_state_dict(blob["optimizer"])
    sched.load_state_dict(blob["scheduler"])
    _set_rng_state(blob["rng"])
    return json.loads((ckpt / STATE_JSON).read_text())
