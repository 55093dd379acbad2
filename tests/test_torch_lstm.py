"""Tests for lstm_core.torch_lstm: the PyTorch twin of the NumPy reference.

All comparisons in float64 on the CPU (one optional CUDA test), tiny sizes, fixed
seeds. Projection loss: sum(H * R) + sum(h_T * r_h) + sum(c_T * r_c).
"""
import numpy as np
import pytest
import torch
from torch import nn

from lstm_core import torch_lstm
from lstm_core.numpy_lstm import (init_lstm, init_rnn, lstm_backward, lstm_forward,
                                  rnn_backward, rnn_forward)
from lstm_core.torch_lstm import LSTM, NN_NAMES

from kernel_helpers import require_kernel

T, B, I, H = 5, 3, 4, 6
TOL = {"rtol": 1e-10, "atol": 1e-10}

VARIANTS = pytest.mark.parametrize(
    "peepholes, forget_gate",
    [(False, True), (True, True), (False, False), (True, False)],
    ids=["plain", "peepholes", "no-forget", "peepholes-no-forget"])
PEEPHOLE_PATH = pytest.mark.parametrize(
    "peepholes, forget_gate", [(True, True), (False, False), (True, False)],
    ids=["peepholes", "no-forget", "peepholes-no-forget"])


@pytest.fixture(autouse=True, params=["cpp", "pure-torch"])
def cpu_path(request, monkeypatch):
    """Every test runs twice: with the C++ CPU kernel and with the pure-PyTorch
    Function (LSTM_CORE_PURE_TORCH=1), the path used where no compiler exists."""
    if request.param == "pure-torch":
        monkeypatch.setenv("LSTM_CORE_PURE_TORCH", "1")
        return "_PeepholeLSTMBackward"
    monkeypatch.delenv("LSTM_CORE_PURE_TORCH", raising=False)
    require_kernel()
    return "_FusedPeepholeLSTMBackward"


@pytest.fixture
def rng():
    return np.random.default_rng(4321)


@pytest.fixture
def data(rng):
    """Input, initial state and the projection-loss weights (float64 arrays)."""
    return {"X": rng.standard_normal((T, B, I)), "h0": rng.standard_normal((B, H)),
            "c0": rng.standard_normal((B, H)), "R": rng.standard_normal((T, B, H)),
            "r_h": rng.standard_normal((B, H)), "r_c": rng.standard_normal((B, H))}


def numpy_run(params, d):
    """NumPy reference: outputs and all gradients of the projection loss."""
    Hs, (h_T, c_T), cache = lstm_forward(d["X"], params, d["h0"], d["c0"])
    grads, dX, dh0, dc0 = lstm_backward(d["R"], cache, d["r_h"], d["r_c"])
    return {"H": Hs, "h_T": h_T, "c_T": c_T, "X": dX, "h0": dh0, "c0": dc0,
            **{"d" + k: v for k, v in grads.items()}}


def torch_run(module, d, names=None, device="cpu"):
    """Same as numpy_run for a torch module taking (X, (h0, c0)) time-major.

    names maps the module's parameter names to the NumPy ones (torch.nn.LSTM)."""
    t = {k: torch.tensor(v, device=device) for k, v in d.items()}
    X, h0, c0 = (t[k].clone().requires_grad_() for k in ("X", "h0", "c0"))
    Hs, (h_n, c_n) = module(X, (h0[None], c0[None]))
    assert h_n.shape == c_n.shape == (1, B, H)
    loss = (Hs * t["R"]).sum() + (h_n[0] * t["r_h"]).sum() + (c_n[0] * t["r_c"]).sum()
    loss.backward()
    names = names or {}
    out = {"H": Hs, "h_T": h_n[0], "c_T": c_n[0], "X": X.grad, "h0": h0.grad,
           "c0": c0.grad,
           **{"d" + names.get(n, n): p.grad for n, p in module.named_parameters()}}
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def assert_all_close(actual, expected, **tol):
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], err_msg=key, **(tol or TOL))


def make_params(rng, peepholes, forget_gate, dtype=np.float64):
    return init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate, rng=rng,
                     dtype=dtype)


# ----------------------------------------------------------------------------- parity

def test_numpy_module_and_nn_lstm_agree(rng, data):
    params = make_params(rng, peepholes=False, forget_gate=True)
    module = LSTM.from_numpy(params)
    nn_lstm = module.to_nn_lstm()
    assert type(nn_lstm) is nn.LSTM
    expected = numpy_run(params, data)
    assert_all_close(torch_run(module, data), expected)
    nn_names = {v: k for k, v in NN_NAMES.items()}
    assert_all_close(torch_run(nn_lstm, data, nn_names), expected)


@PEEPHOLE_PATH
def test_module_matches_numpy_reference(rng, data, peepholes, forget_gate):
    params = make_params(rng, peepholes, forget_gate)
    assert_all_close(torch_run(LSTM.from_numpy(params), data), numpy_run(params, data))


def test_numpy_rnn_matches_nn_rnn(rng, data):
    params = init_rnn(I, H, rng=rng)
    rnn = nn.RNN(I, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        for name, nn_name in NN_NAMES.items():
            getattr(rnn, nn_name).copy_(torch.from_numpy(params[name]))
    Hs, h_T, cache = rnn_forward(data["X"], params, data["h0"])
    grads, dX, dh0 = rnn_backward(data["R"], cache, data["r_h"])

    X = torch.tensor(data["X"], requires_grad=True)
    h0 = torch.tensor(data["h0"][None], requires_grad=True)
    out, h_n = rnn(X, h0)
    ((out * torch.from_numpy(data["R"])).sum()
     + (h_n[0] * torch.from_numpy(data["r_h"])).sum()).backward()
    actual = {"H": out, "h_T": h_n[0], "X": X.grad, "h0": h0.grad[0],
              **{name: getattr(rnn, nn_name).grad for name, nn_name in NN_NAMES.items()}}
    expected = {"H": Hs, "h_T": h_T, "X": dX, "h0": dh0, **grads}
    assert_all_close({k: v.detach().numpy() for k, v in actual.items()}, expected)


@VARIANTS
def test_module_passes_autograd_gradcheck(peepholes, forget_gate):
    torch.manual_seed(0)
    t, b, i, h = 3, 2, 3, 4
    module = LSTM(i, h, peepholes=peepholes, forget_gate=forget_gate,
                  dtype=torch.float64)
    names = [n for n, _ in module.named_parameters()]
    weights = [p.detach().clone().requires_grad_() for _, p in module.named_parameters()]
    X = torch.randn(t, b, i, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, b, h, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, b, h, dtype=torch.float64, requires_grad=True)

    def f(X, h0, c0, *weights):
        Hs, (_, c_n) = torch.func.functional_call(module, dict(zip(names, weights)),
                                                  (X, (h0, c0)))
        return Hs, c_n

    assert torch.autograd.gradcheck(f, (X, h0, c0, *weights))


@VARIANTS
def test_batch_first_is_the_transpose_of_time_major(rng, data, peepholes, forget_gate):
    params = make_params(rng, peepholes, forget_gate)
    X = torch.from_numpy(data["X"])
    state = tuple(torch.from_numpy(data[k])[None] for k in ("h0", "c0"))
    with torch.no_grad():
        Hs, (h_n, c_n) = LSTM.from_numpy(params)(X, state)
        Hs_bf, (h_bf, c_bf) = LSTM.from_numpy(params, batch_first=True)(
            X.transpose(0, 1).contiguous(), state)
    assert Hs_bf.shape == (B, T, H)
    torch.testing.assert_close(Hs_bf, Hs.transpose(0, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_bf, h_n, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_bf, c_n, rtol=1e-12, atol=1e-12)


@VARIANTS
def test_training_and_eval_mode_give_the_same_outputs(rng, data, peepholes, forget_gate):
    module = LSTM.from_numpy(make_params(rng, peepholes, forget_gate))
    X = torch.from_numpy(data["X"])
    with torch.no_grad():
        train_out = module.train()(X)
        eval_out = module.eval()(X)
    torch.testing.assert_close(train_out, eval_out, rtol=1e-12, atol=1e-12)


def test_fused_path_for_plain_lstm(rng, data):
    module = LSTM.from_numpy(make_params(rng, peepholes=False, forget_gate=True))
    Hs, _ = module(torch.from_numpy(data["X"]))
    assert Hs.grad_fn is not None
    assert "Peephole" not in type(Hs.grad_fn).__name__


@PEEPHOLE_PATH
def test_custom_function_for_peepholes_or_no_forget_gate(rng, data, peepholes,
                                                         forget_gate, cpu_path):
    module = LSTM.from_numpy(make_params(rng, peepholes, forget_gate))
    Hs, _ = module(torch.from_numpy(data["X"]))
    assert type(Hs.grad_fn).__name__ == cpu_path


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("forget_gate", [True, False], ids=["peepholes",
                                                            "peepholes-no-forget"])
def test_cuda_peephole_path_matches_cpu(rng, data, forget_gate):
    params = make_params(rng, peepholes=True, forget_gate=forget_gate)
    cpu = torch_run(LSTM.from_numpy(params), data)
    module = LSTM.from_numpy(params, device="cuda")
    assert module.W_ih.is_cuda
    assert_all_close(torch_run(module, data, device="cuda"), cpu)


# --------------------------------------------- flattened weights (cuDNN reads in place)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_state_dict_has_the_numpy_names_and_loads_nn_lstm_weights():
    torch.manual_seed(0)
    module = LSTM(I, H, dtype=torch.float64)
    state = module.state_dict()
    assert list(state) == ["W_ih", "W_hh", "b_ih", "b_hh"]
    assert [tuple(v.shape) for v in state.values()] == [(4 * H, I), (4 * H, H),
                                                        (4 * H,), (4 * H,)]
    reference = nn.LSTM(I, H, dtype=torch.float64)
    module.load_state_dict({n: getattr(reference, nn_name)
                            for n, nn_name in NN_NAMES.items()})
    X = torch.randn(T, B, I, dtype=torch.float64)
    torch.testing.assert_close(module(X)[0], reference(X)[0], rtol=1e-12, atol=1e-12)
    again = LSTM(I, H, dtype=torch.float64)
    again.load_state_dict(module.state_dict())
    torch.testing.assert_close(again(X)[0], module(X)[0], rtol=0, atol=0)


def test_flatten_is_a_no_op_on_the_cpu_and_with_peepholes():
    for module in (LSTM(I, H), LSTM(I, H, peepholes=True)):
        before = {n: p.data_ptr() for n, p in module.named_parameters()}
        module.flatten_parameters()
        module.double()
        module.flatten_parameters()
        assert len(before) == len({p.data_ptr() for p in module.parameters()})
        assert not module.is_flat()


def _flat_is_one_buffer(module):
    ptrs = {p.untyped_storage().data_ptr() for p in module.parameters()}
    return len(ptrs) == 1


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_weights_are_flat_and_cudnn_does_not_copy_them(rng, data, dtype):
    # cuDNN warns "RNN module weights are not part of single contiguous chunk of
    # memory" (and copies them) on every call when they are not flattened.
    import warnings
    params = make_params(rng, peepholes=False, forget_gate=True)
    cpu = torch_run(LSTM.from_numpy(params), data)
    for module in (LSTM.from_numpy(params, device="cuda"),
                   LSTM.from_numpy(params).cuda(),
                   LSTM.from_numpy(params).to("cuda", dtype).double()):
        assert module.is_flat() and _flat_is_one_buffer(module)
        state = module.state_dict()
        assert list(state) == ["W_ih", "W_hh", "b_ih", "b_hh"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = torch_run(module, data, device="cuda")
        assert_all_close(out, cpu, rtol=1e-9, atol=1e-9)
        module.load_state_dict(LSTM.from_numpy(params).state_dict())
        assert module.is_flat()                    # load_state_dict copies in place
        np.testing.assert_array_equal(module.to_numpy()["W_hh"], params["W_hh"])


@CUDA
def test_cuda_flat_path_matches_nn_lstm_with_its_optimizer_step():
    torch.manual_seed(0)
    reference = nn.LSTM(I, H, device="cuda")
    module = LSTM.from_nn_lstm(reference)
    assert module.is_flat()
    X = torch.randn(T, B, I, device="cuda")
    for m in (reference, module):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        m(X)[0].square().sum().backward()
        opt.step()
    for name, nn_name in NN_NAMES.items():
        torch.testing.assert_close(getattr(module, name), getattr(reference, nn_name))
    assert module.is_flat()


# ----------------------------------------------------------------------------- conversions

@VARIANTS
def test_from_numpy_to_numpy_round_trip_is_exact(rng, peepholes, forget_gate):
    params = make_params(rng, peepholes, forget_gate)
    back = LSTM.from_numpy(params).to_numpy()
    assert set(back) == set(params)
    for name, value in params.items():
        assert back[name].dtype == value.dtype
        np.testing.assert_array_equal(back[name], value, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@VARIANTS
def test_from_numpy_keeps_dtype(rng, peepholes, forget_gate, dtype):
    module = LSTM.from_numpy(make_params(rng, peepholes, forget_gate, dtype))
    expected = torch.float32 if dtype == np.float32 else torch.float64
    assert {n: p.dtype for n, p in module.named_parameters()} == {
        n: expected for n, _ in module.named_parameters()}


def test_from_nn_lstm_to_nn_lstm_round_trip_keeps_weights():
    torch.manual_seed(0)
    original = nn.LSTM(I, H, batch_first=True, dtype=torch.float64)
    module = LSTM.from_nn_lstm(original)
    for name, nn_name in NN_NAMES.items():
        assert torch.equal(getattr(module, name), getattr(original, nn_name))
    back = module.to_nn_lstm()
    assert back.batch_first and back.input_size == I and back.hidden_size == H
    theirs, ours = original.state_dict(), back.state_dict()
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype
        assert torch.equal(ours[key], theirs[key]), key


def _without(params, key):
    return {k: v for k, v in params.items() if k != key}


@pytest.mark.parametrize("change, match", [
    (lambda p: {**p, "W_hh": np.zeros((4 * H, H + 1))}, r"W_hh"),
    (lambda p: _without(p, "b_hh"), r"missing \['b_hh'\]"),
    (lambda p: {**p, "bias": p["b_ih"]}, r"extra \['bias'\]"),
    (lambda p: {**p, "b_ih": p["b_ih"][:3 * H]}, r"b_ih"),
], ids=["W_hh-shape", "missing", "extra", "b_ih-shape"])
def test_from_numpy_error_names_the_parameter(rng, change, match):
    params = make_params(rng, peepholes=False, forget_gate=True)
    with pytest.raises(ValueError, match=match):
        LSTM.from_numpy(change(params))


@pytest.mark.parametrize("key", ["W_ih", "W_hh", "b_hh", "w_co"])
def test_load_arrays_wrong_shape_names_the_parameter(rng, key):
    params = make_params(rng, peepholes=True, forget_gate=True)
    module = LSTM(I, H, peepholes=True, dtype=torch.float64)
    bad = {**params, key: params[key][:-1]}
    with pytest.raises(ValueError, match=rf"parameter {key} must have shape"):
        module.load_arrays(bad)


def test_load_arrays_missing_key_names_it(rng):
    module = LSTM(I, H, peepholes=True, dtype=torch.float64)
    params = _without(make_params(rng, peepholes=True, forget_gate=True), "w_cf")
    with pytest.raises(ValueError, match=r"missing \['w_cf'\]"):
        module.load_arrays(params)


@PEEPHOLE_PATH
def test_to_nn_lstm_refuses_peepholes_and_missing_forget_gate(peepholes, forget_gate):
    module = LSTM(I, H, peepholes=peepholes, forget_gate=forget_gate)
    match = r"peepholes=True" if peepholes else r"forget_gate=False"
    with pytest.raises(ValueError, match=match):
        module.to_nn_lstm()


@pytest.mark.parametrize("kwargs, match", [
    ({"num_layers": 2}, "num_layers"),
    ({"bidirectional": True}, "bidirectional"),
    ({"bias": False}, "bias"),
    ({"proj_size": 2}, "proj_size"),
], ids=["num_layers", "bidirectional", "bias", "proj_size"])
def test_from_nn_lstm_refuses_unsupported_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSTM.from_nn_lstm(nn.LSTM(I, H, **kwargs))


def test_from_nn_lstm_refuses_other_modules():
    with pytest.raises(TypeError, match=r"torch.nn.LSTM, got GRU"):
        LSTM.from_nn_lstm(nn.GRU(I, H))


# ----------------------------------------------------------------------------- bad input

@pytest.fixture
def module():
    torch.manual_seed(0)
    return LSTM(I, H, dtype=torch.float64)


def test_forward_refuses_2d_input(module):
    with pytest.raises(ValueError, match=r"^X must have shape \(T, B, 4\), got a float64 "
                       r"tensor of shape \(5, 4\)"):
        module(torch.zeros(T, I, dtype=torch.float64))


def test_forward_refuses_wrong_feature_size(module):
    with pytest.raises(ValueError,
                       match=r"^X must have shape \(T, B, 4\), got .* \(5, 3, 5\)"):
        module(torch.zeros(T, B, I + 1, dtype=torch.float64))


def test_forward_refuses_dtype_mismatch(module):
    with pytest.raises(TypeError, match=r"^X must be torch.float64"):
        module(torch.zeros(T, B, I, dtype=torch.float32))


@pytest.mark.parametrize("which", ["h0", "c0"])
def test_forward_refuses_state_of_wrong_shape(module, which):
    good, bad = torch.zeros(1, B, H, dtype=torch.float64), torch.zeros(B, H,
                                                                        dtype=torch.float64)
    state = (bad, good) if which == "h0" else (good, bad)
    with pytest.raises(ValueError, match=rf"^state {which} must have shape \(1, 3, 6\)"):
        module(torch.zeros(T, B, I, dtype=torch.float64), state)


def test_state_with_the_wrong_dtype_is_named():
    m = LSTM(3, 5, peepholes=True, dtype=torch.float64)
    X = torch.zeros(4, 2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="h0"):
        m(X, (torch.zeros(1, 2, 5), torch.zeros(1, 2, 5)))


def test_empty_sequence_is_named():
    with pytest.raises(ValueError, match="at least one time step"):
        LSTM(3, 5)(torch.zeros(0, 2, 3))
