"""lstm_core.odyssey: the tasks of the chapter on LSTM variants (data, criteria,
models, the one-file-per-run cache). Training itself is the notebook's."""
import numpy as np
import pytest

from lstm_core import check, data, odyssey, variants


def test_steps_ok_is_the_1997_criterion():
    check.check_steps_ok(odyssey.steps_ok)       # raises on any mistake


def test_reber_sets_are_distinct_grammar_strings():
    tr, te = odyssey.reber_sets(n=64)
    assert len(tr) == len(te) == 64 and not set(tr) & set(te)
    assert all(data.is_embedded_reber(s) for s in tr + te)
    assert odyssey.reber_sets(n=64) == (tr, te)   # the same for every run


def test_spike_trains_two_inputs_then_due_spikes():
    X, Y, M, P = odyssey.spike_trains((3, 4), 14)
    assert X.shape == Y.shape == (14, 7, 1) and M.shape == (14, 7)
    assert list(P) == [3, 3, 3, 4, 4, 4, 4]
    n = 4                                        # period 4, phase 1
    assert np.flatnonzero(X[:, n, 0]).tolist() == [1, 5]
    assert np.flatnonzero(Y[:, n, 0]).tolist() == [9, 13]
    assert np.flatnonzero(M[:, n]).min() == 6    # scored after the second spike
    assert (X.sum(0)[:, 0] == 2).all()


def test_timing_ok_needs_every_due_spike_and_no_other():
    X, Y, M, _ = odyssey.spike_trains((3, 4), 14)
    Z = np.where(Y > 0.5, 1.0, -1.0)
    assert odyssey.timing_ok(Z, Y, M).all()
    late = np.roll(Z, 1, axis=0)                 # every spike one step late
    assert not odyssey.timing_ok(late, Y, M).any()
    Z2 = Z.copy()
    Z2[0] = 1.0                                  # unscored steps do not count
    assert odyssey.timing_ok(Z2, Y, M).all()


def test_fb1_is_vanilla_with_forget_bias_plus_one():
    a, b = odyssey.make_model("vanilla", 1, 1, 3), odyssey.make_model("fb1", 1, 1, 3)
    rows = variants.gate_rows("vanilla", odyssey.HIDDEN)
    d = b.params["b_ih"] - a.params["b_ih"]
    np.testing.assert_allclose(d[rows["f"]], 1.0, rtol=0, atol=1e-15)
    d[rows["f"]] = 0
    assert not d.any()
    for k in a.params:
        if k != "b_ih":
            np.testing.assert_array_equal(a.params[k], b.params[k])


def test_n_weights_counts_gate_rows_and_peepholes():
    H, I, O = odyssey.HIDDEN, 7, 7
    readout = O * H + O
    assert odyssey.n_weights("np", I, O) == 4 * H * (I + H + 2) + readout
    assert odyssey.n_weights("vanilla", I, O) == 4 * H * (I + H + 2) + 3 * H + readout
    assert odyssey.n_weights("cifg", I, O) == 3 * H * (I + H + 2) + 2 * H + readout
    assert odyssey.n_weights("gru", I, O) == 3 * H * (I + H + 2) + readout


def test_run_cached_never_trains_by_accident(tmp_path):
    with pytest.raises(FileNotFoundError, match="RETRAIN"):
        odyssey.run_cached(tmp_path, "timing", "gru", 0)


def test_run_cached_saves_one_file_and_reads_it_back(tmp_path, monkeypatch):
    calls = []

    def fake(arm, seed, cfg):
        calls.append((arm, seed))
        return {"solved": True, "epochs": 7, "curve": np.arange(3.0)}
    monkeypatch.setitem(odyssey.RUNNERS, "timing", fake)
    r = odyssey.run_cached(tmp_path, "timing", "gru", 2, retrain=True)
    assert (tmp_path / "timing_gru_seed2.npz").exists()
    again = odyssey.run_cached(tmp_path, "timing", "gru", 2, retrain=True)
    assert calls == [("gru", 2)]                 # resumed: not trained twice
    assert again["epochs"] == r["epochs"] == 7 and again["solved"]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="arm"):
        odyssey.run("reber", "lstm", 0)
    with pytest.raises(ValueError, match="task"):
        odyssey.run("copy", "np", 0)
