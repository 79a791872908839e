"""RUN/latest and RUN/best resolve in the one model resolver that every loader goes through."""

import json
import shutil

import pytest

from ponder.models import TINY_DIR, resolve_model
from ponder.types import PonderError


def _run(tmp_path, steps, evals=None):
    run = tmp_path / "run"
    for s in steps:
        shutil.copytree(TINY_DIR, run / f"ckpt-{s:06d}")
    (run / "latest").write_text(f"ckpt-{max(steps):06d}\n")
    lines = [{"step": s, "loss": 1.0} for s in steps]
    lines += [{"step": s, "eval/accuracy": a} for s, a in (evals or {}).items()]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"cut')
    return run


def test_latest_names_the_newest_checkpoint(tmp_path):
    run = _run(tmp_path, [2, 4])
    assert resolve_model(f"{run}/latest") == str(run / "ckpt-000004")
    (run / "latest").write_text("ckpt-000002")  # the file, not the highest number, decides
    assert resolve_model(f"{run}/latest") == str(run / "ckpt-000002")


def test_best_is_the_checkpoint_with_the_best_eval(tmp_path):
    run = _run(tmp_path, [2, 4, 6], evals={0: 0.9, 2: 0.5, 4: 0.7, 5: 0.99, 6: 0.6})
    assert resolve_model(f"{run}/best") == str(run / "ckpt-000004")  # steps 0 and 5 have no checkpoint


def test_best_without_recorded_eval_is_a_clear_error(tmp_path):
    run = _run(tmp_path, [2])
    with pytest.raises(PonderError, match="no eval/accuracy"):
        resolve_model(f"{run}/best")


def test_alias_of_a_folder_without_checkpoints_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PonderError, match="no ckpt-STEP"):
        resolve_model(f"{tmp_path}/empty/latest")


def test_a_generator_loads_from_an_alias(tmp_path):
    from ponder.gen import load_generator

    run = _run(tmp_path, [3])
    gen = load_generator(f"{run}/latest")
    assert gen.render("1+1")
