"""check.check_steps_ok accepts the 1997 criterion and names each usual mistake."""
import numpy as np
import pytest

from lstm_core import check
from lstm_core.check_reber import MISTAKES, _reference


def right(Z, Y, mask):
    legal = Y > 0.5
    low = np.where(legal, Z, np.inf).min(-1)
    high = np.where(legal, -np.inf, Z).max(-1)
    return (low > high) | (mask == 0)


def test_right_answer_passes(capsys):
    check.check_steps_ok(right)
    assert "steps_ok OK" in capsys.readouterr().out


@pytest.mark.parametrize("message,knobs", MISTAKES, ids=[str(k) for _, k in MISTAKES])
def test_each_mistake_is_named(message, knobs):
    def wrong(Z, Y, mask):
        return _reference(Z, Y, mask, **knobs)
    with pytest.raises(check.CheckError) as err:
        check.check_steps_ok(wrong)
    assert message in str(err.value)


def test_wrong_shape_is_named():
    with pytest.raises(check.CheckError, match="shape"):
        check.check_steps_ok(lambda Z, Y, mask: right(Z, Y, mask).T)


def test_other_errors_give_the_first_wrong_step():
    def off_by_one(Z, Y, mask):
        ok = right(Z, Y, mask)
        ok[0, 0] = ~ok[0, 0]
        return ok
    with pytest.raises(check.CheckError, match="step t=0 of string n=0"):
        check.check_steps_ok(off_by_one)
