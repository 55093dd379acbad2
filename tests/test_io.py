"""Tests for lstm_core.io: round trips, atomic writes and clear errors."""
import subprocess
import sys

import numpy as np
import pytest

from lstm_core.io import FORMAT_VERSION, load_params, load_torch_state, save_params


class NotATensor:
    """A custom object that weights_only loading must refuse."""

    def __init__(self):
        self.payload = [1, 2, 3]


@pytest.fixture
def params():
    rng = np.random.default_rng(0)
    H, I = 2, 3
    return {
        "W_ih": rng.standard_normal((4 * H, I)),  # float64
        "W_hh": rng.standard_normal((4 * H, H)).astype(np.float32),
        "b_ih": rng.standard_normal(4 * H),
        "w_ci": rng.standard_normal(H).astype(np.float32),
    }


def test_round_trip_keeps_values_dtypes_and_meta(tmp_path, params):
    path = tmp_path / "model.npz"
    meta = {"hidden_size": 2, "note": "sine", "lr": 0.1, "peepholes": [True]}
    save_params(path, params, meta)
    loaded, loaded_meta = load_params(str(path), expected_keys=params)
    assert loaded_meta == meta
    assert set(loaded) == set(params)
    for name, x in params.items():
        assert loaded[name].dtype == x.dtype
        assert np.array_equal(loaded[name], x)


def test_meta_defaults_to_none(tmp_path, params):
    save_params(tmp_path / "m.npz", params)
    assert load_params(tmp_path / "m.npz")[1] is None


def test_save_leaves_no_temp_file(tmp_path, params):
    save_params(tmp_path / "m.npz", params)
    save_params(tmp_path / "m.npz", params)  # overwriting too
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, params, monkeypatch):
    path = tmp_path / "m.npz"
    save_params(path, params, {"version": "old"})
    old_bytes = path.read_bytes()

    def half_write_then_fail(file, *args, **kwargs):
        if hasattr(file, "write"):
            file.write(b"PK partial")
        else:
            with open(file, "wb") as fh:
                fh.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", half_write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_params(path, {"W_ih": np.zeros(3)}, {"version": "new"})
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_truncated_file_is_a_clear_error(tmp_path, params):
    path = tmp_path / "m.npz"
    save_params(path, params)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable .npz parameter file"):
        load_params(path)


def test_random_bytes_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(ValueError, match="not a readable .npz parameter file"):
        load_params(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_params(tmp_path / "nope.npz")


def test_foreign_npz_mentions_save_params(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3), b=np.ones(2))
    with pytest.raises(ValueError, match="not written by save_params"):
        load_params(path)


def test_newer_format_version_names_both_versions(tmp_path):
    path = tmp_path / "future.npz"
    newer = FORMAT_VERSION + 1
    np.savez(path, W_ih=np.zeros(3), __format__=np.array(newer),
             __meta__=np.array("null"))
    with pytest.raises(ValueError, match=f"version {newer}.*version {FORMAT_VERSION}"):
        load_params(path)


def test_expected_keys_mismatch_names_the_keys(tmp_path, params):
    path = tmp_path / "m.npz"
    save_params(path, params)
    expected = ["W_ih", "W_hh", "b_ih", "b_hh"]
    with pytest.raises(ValueError, match=r"missing \['b_hh'\], extra \['w_ci'\]"):
        load_params(path, expected_keys=expected)


@pytest.mark.parametrize("bad, error, message", [
    ({"W_ih": np.zeros(3, dtype=np.int64)}, TypeError,
     r"params\['W_ih'\] must be float32 or float64, got an int64"),
    ({"W_ih": np.array([0.0, np.nan])}, ValueError, r"params\['W_ih'\].*finite"),
    ({"W_ih": [0.0, 1.0]}, TypeError, r"params\['W_ih'\] must be a NumPy array"),
    ([np.zeros(3)], TypeError, "params must be a dict.*got list"),
    ({}, ValueError, "non-empty"),
    ({"__format__": np.zeros(3)}, ValueError, "'__format__' is reserved"),
])
def test_bad_params_are_refused_clearly(tmp_path, bad, error, message):
    with pytest.raises(error, match=message):
        save_params(tmp_path / "m.npz", bad)
    assert list(tmp_path.iterdir()) == []


def test_meta_must_be_json(tmp_path, params):
    with pytest.raises(TypeError, match="meta must be JSON-serialisable"):
        save_params(tmp_path / "m.npz", params, {"rng": object()})


def test_path_must_end_in_npz(tmp_path, params):
    with pytest.raises(ValueError, match="must end in '.npz'"):
        save_params(tmp_path / "model.bin", params)
    assert list(tmp_path.iterdir()) == []


def test_import_does_not_import_torch():
    code = "import sys, lstm_core.io; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_torch_state_round_trips_a_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    state = torch.nn.LSTM(3, 2).state_dict()
    torch.save(state, tmp_path / "lstm.pt")
    loaded = load_torch_state(tmp_path / "lstm.pt")
    assert list(loaded) == list(state)
    for name in state:
        assert torch.equal(loaded[name], state[name])


def test_load_torch_state_refuses_arbitrary_objects(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2), "obj": NotATensor()}, tmp_path / "evil.pt")
    message = "not a readable torch checkpoint.*weights_only"
    with pytest.raises(ValueError, match=message):
        load_torch_state(tmp_path / "evil.pt")


def test_load_torch_state_corrupt_file_is_a_clear_error(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_torch_state(path)
