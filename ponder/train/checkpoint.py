"""Checkpoints that a killed run resumes from exactly, and that fail loud when damaged.

A checkpoint `out/ckpt-STEP/` is a Hugging Face model folder (`config.json`, `model.safetensors`,
tokenizer files: loadable with `from_pretrained` and by `ponder solve --model`; with LoRA, the
adapters and a config naming their base, which `--model` accepts too) plus
`trainer_state.pt` (optimiser, scheduler, torch/python/numpy RNG states), `trainer_state.json`
(step, data position and whatever the loop needs to continue, human-readable) and
`checksums.json` (sha256 of every other file). Writing: the files go to a temporary folder, each
is fsynced and its checksum recorded, the folder is renamed into place, and `latest` (a one-line
file) is written atomically last. A checkpoint already saved at the same step is kept as it is
(the final save after a periodic one), and a folder that would be replaced is moved aside, never
deleted, so a kill at any moment leaves every earlier checkpoint intact. Loops are deterministic
given the step, so a resumed run reaches the same weights as an unbroken one.

Reading (`find_resume_point`): `latest` names the newest; every candidate is checked against its
checksums before use; a damaged newest checkpoint is skipped, with a warning, for the next older
intact one. States a healthy run never leaves (`latest` missing, empty or naming no checkpoint
while checkpoints or metrics exist; no intact checkpoint at all) stop with an error saying what
to do; nothing is deleted and nothing restarts from step 0 in silence.

Under torchrun only rank 0 writes (the replicas are identical), and the data position is stored
as a global position, so a checkpoint resumes at any world size.

Under FSDP (train.parallel=fsdp) the full weights and optimiser state are gathered onto rank 0
first (train/fsdp.py), so the files are the same as one process's.

Left out: sharded (per-rank) checkpoint files, keeping only the last k checkpoints, checksums of
multi-GB weights in a background thread (they are read once on load; fine at laptop sizes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ponder.io import atomic_write, write_json
from ponder.types import PonderError

log = logging.getLogger(__name__)

STATE_PT, STATE_JSON, LATEST, CHECKSUMS = "trainer_state.pt", "trainer_state.json", "latest", "checksums.json"
METRICS = "metrics.jsonl"
_NAME = re.compile(r"^ckpt-(\d+)$")


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


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(folder: Path) -> None:
    """Write checksums.json for every file in `folder` and flush all of it to disk."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)
    for p in files:
        _fsync(p)
    write_json(folder / CHECKSUMS, {str(p.relative_to(folder)): sha256_of(p) for p in files})
    _fsync(folder)


def damage(folder: Path) -> str | None:
    """Why `folder` is not an intact checkpoint (a missing or mismatching file), or None if it is."""
    try:
        sums = json.loads((folder / CHECKSUMS).read_text())
    except FileNotFoundError:
        return f"no {CHECKSUMS} (cut short, or written by a ponder without checksums)"
    except (OSError, ValueError) as e:
        return f"{CHECKSUMS} unreadable ({e})"
    if not isinstance(sums, dict) or not {STATE_PT, STATE_JSON} <= set(sums):
        return f"{CHECKSUMS} does not list the trainer state"
    for name, digest in sums.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if sha256_of(path) != digest:
            return f"{name} fails its checksum"
    return None


def _step_of(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def list_checkpoints(out: Path) -> list[Path]:
    """Complete-looking ckpt-STEP folders, oldest first (temporary and set-aside ones excluded)."""
    if not out.is_dir():
        return []
    return sorted((p for p in out.iterdir() if p.is_dir() and _NAME.match(p.name)), key=_step_of)


def read_latest(out: Path) -> str | None:
    """The name `latest` holds ('' when empty), or None when there is no `latest` file."""
    p = out / LATEST
    if not p.is_file():
        return None
    try:
        return p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return "<unreadable>"


def _set_aside(path: Path) -> None:
    n = 1
    while path.with_name(f"{path.name}.replaced-{n}").exists():
        n += 1
    path.rename(path.with_name(f"{path.name}.replaced-{n}"))
    log.warning("kept the earlier %s as %s.replaced-%d", path.name, path.name, n)


def save_hf(model, tokenizer, folder: Path, state_dict: dict | None = None) -> None:
    """A causal LM's weights and tokenizer as a Hugging Face folder (the default model writer);
    `state_dict`: the weights to write instead of the model's own (FSDP: the gathered full ones)."""
    from ponder.models import portable_tokenizer_config

    model.save_pretrained(folder, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(folder)
    portable_tokenizer_config(folder)  # loads on every transformers version pyproject allows


def load_hf_weights(model, folder: Path) -> None:
    """Weights from a Hugging Face folder into `model` in place; a mismatch is an error."""
    from safetensors.torch import load_file

    weights = load_file(str(folder / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if unexpected or [k for k in missing if k not in tied and "lm_head" not in k]:
        raise PonderError(f"checkpoint {folder} does not match the model: missing {missing}, unexpected {unexpected}")


def save_checkpoint(
    out: str | Path, step: int, save_model: Callable[[Path], None], opt, sched, state: dict[str, Any], scaler=None
) -> Path:
    """Write out/ckpt-STEP (`save_model(folder)` writes the model; then the trainer state, sealed
    with checksums) and then point out/latest at it."""
    out = Path(out)
    final = out / f"ckpt-{step:06d}"
    if read_latest(out) == final.name and damage(final) is None:
        return final  # this step is already saved and intact; rewriting it could only lose it
    tmp = out / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(tmp)
    blob = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": _rng_state()}
    if scaler is not None:
        blob["scaler"] = scaler.state_dict()  # fp16 loss scale
    torch.save(blob, tmp / STATE_PT)
    write_json(tmp / STATE_JSON, {"step": step, **state})
    seal(tmp)
    if final.exists():
        _set_aside(final)
    tmp.rename(final)
    _fsync(out)
    with atomic_write(out / LATEST) as f:
        f.write(final.name + "\n")
    return final


def has_run(out: Path) -> bool:
    """Whether `out` holds checkpoints or metrics of an earlier run."""
    metrics = out / METRICS
    return bool(list_checkpoints(out)) or (metrics.is_file() and metrics.stat().st_size > 0)


def find_resume_point(out: str | Path) -> Path | None:
    """The newest intact checkpoint to resume from; None for a fresh run folder; PonderError for
    a folder in a state no healthy run leaves."""
    out = Path(out)
    name, ckpts = read_latest(out), list_checkpoints(out)
    if not name or not _NAME.match(name) or not (out / name).is_dir():
        if not has_run(out):
            return None
        said = "missing" if name is None else "empty" if not name else f"naming {name!r}, which is not a checkpoint"
        newest = ckpts[-1].name if ckpts else "none"
        raise PonderError(
            f"{out}/{LATEST} is {said}, but the folder holds {len(ckpts)} checkpoint(s) (newest: {newest}) "
            f"or metrics; a run never leaves this state. To resume, write a checkpoint's name into "
            f"{out}/{LATEST}; to start over, choose a new run.out. Nothing was changed."
        )
    newest = out / name
    reasons = []
    for ck in [newest, *[c for c in reversed(ckpts) if _step_of(c) < _step_of(newest)]]:
        why = damage(ck)
        if why is None:
            if ck != newest:
                log.warning("resuming from %s, the newest intact checkpoint (%s)", ck.name, "; ".join(reasons))
            return ck
        log.warning("checkpoint %s is damaged: %s", ck, why)
        reasons.append(f"{ck.name}: {why}")
    raise PonderError(
        f"no intact checkpoint in {out} ({'; '.join(reasons)}); to start over, choose a new run.out. "
        "Nothing was changed."
    )


def load_checkpoint(ckpt: str | Path, load_model: Callable[[Path], None], opt, sched, scaler=None) -> dict[str, Any]:
    """Restore weights (`load_model(folder)`), optimiser, scheduler and RNG in place; returns the
    json state (with step)."""
    ckpt = Path(ckpt)
    load_model(ckpt)
    blob = torch.load(ckpt / STATE_PT, weights_only=False)
    opt.load_state_dict(blob["optimizer"])
    sched.load_state_dict(blob["scheduler"])
    _set_rng_state(blob["rng"])
    if scaler is not None and "scaler" in blob:
        scaler.load_state_dict(blob["scaler"])
    return json.loads((ckpt / STATE_JSON).read_text())
