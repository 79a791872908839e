import os

import pytest

from ponder.io import atomic_write, read_jsonl, write_jsonl
from ponder.types import PonderError


def test_atomic_write_leaves_nothing_on_failure_and_normal_permissions(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half")
        raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_jsonl(target, [{"a": 1}])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask
    assert read_jsonl(target) == [{"a": 1}]


def test_read_jsonl_names_the_bad_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(PonderError, match=r"x.jsonl:2: not valid JSON"):
        read_jsonl(f)
    f.write_text("")
    with pytest.raises(PonderError, match="is empty"):
        read_jsonl(f)
