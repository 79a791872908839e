import pytest

from ponder.eval.estimators import wilson


def test_wilson_golden_numbers():
    lo, hi = wilson(29, 100)  # 0.29 on 100 problems; worked by hand: centre 0.2978, half-width 0.0876
    assert lo == pytest.approx(0.2101, abs=1e-4) and hi == pytest.approx(0.3854, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
