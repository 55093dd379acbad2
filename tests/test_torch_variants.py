"""Tests for lstm_core.torch_variants: LSTMVariant and GRU against NumPy and nn.GRU.

Float64 on the CPU (one optional CUDA test), tiny sizes, fixed seeds; outputs and
every gradient of the projection loss sum(H * R) + sum(h_T * r_h) (+ sum(c_T * r_c))
agree to 1e-10, and torch.autograd.gradcheck passes on every module and Function.
"""
import numpy as np
import pytest
import torch
from torch import nn

from lstm_core import gru as np_gru
from lstm_core import variants
from lstm_core.torch_lstm import NN_NAMES
from lstm_core.torch_variants import GRU, LSTMVariant, _VariantLSTM

from kernel_helpers import require_kernel

T, B, I, H = 5, 3, 4, 6
TOL = {"rtol": 1e-10, "atol": 1e-10}
ALL = pytest.mark.parametrize("variant", list(variants.VARIANTS))
PEEPHOLES = variants.ALL_PEEPHOLES


@pytest.fixture
def rng():
    return np.random.default_rng(1503)


@pytest.fixture
def data(rng):
    return {"X": rng.standard_normal((T, B, I)), "h0": rng.standard_normal((B, H)),
            "c0": rng.standard_normal((B, H)), "R": rng.standard_normal((T, B, H)),
            "r_h": rng.standard_normal((B, H)), "r_c": rng.standard_normal((B, H))}


@pytest.fixture(params=["cpp", "pure-torch"])
def cpu_path(request, monkeypatch):
    """vanilla and nfg run torch_lstm's peephole path: C++ or pure PyTorch (the
    path where no compiler exists); returns the name of its backward node."""
    if request.param == "pure-torch":
        monkeypatch.setenv("LSTM_CORE_PURE_TORCH", "1")
        return "_PeepholeLSTMBackward"
    monkeypatch.delenv("LSTM_CORE_PURE_TORCH", raising=False)
    require_kernel()
    return "_FusedPeepholeLSTMBackward"


def make_params(rng, variant):
    return {k: 2.0 * v for k, v in variants.init_lstm(I, H, variant=variant,
                                                      rng=rng).items()}


def numpy_run(params, d, variant):
    Hs, (h_T, c_T), cache = variants.lstm_forward(d["X"], params, d["h0"], d["c0"],
                                                  variant=variant)
    grads, dX, dh0, dc0 = variants.lstm_backward(d["R"], cache, d["r_h"], d["r_c"])
    return {"H": Hs, "h_T": h_T, "c_T": c_T, "X": dX, "h0": dh0, "c0": dc0,
            **{"d" + k: v for k, v in grads.items()}}


def lstm_run(run, d, names, device="cpu"):
    """Outputs and gradients of run(X, h0, c0) -> (H, h_T, c_T) as NumPy arrays."""
    t = {k: torch.tensor(v, device=device) for k, v in d.items()}
    X, h0, c0 = (t[k].clone().requires_grad_() for k in ("X", "h0", "c0"))
    Hs, h_T, c_T = run(X, h0, c0)
    ((Hs * t["R"]).sum() + (h_T * t["r_h"]).sum() + (c_T * t["r_c"]).sum()).backward()
    out = {"H": Hs, "h_T": h_T, "c_T": c_T, "X": X.grad, "h0": h0.grad, "c0": c0.grad,
           **{"d" + n: p.grad for n, p in names.items()}}
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def module_run(module, d, device="cpu"):
    def run(X, h0, c0):
        Hs, (h_n, c_n) = module(X, (h0[None], c0[None]))
        assert h_n.shape == c_n.shape == (1, B, H)
        return Hs, h_n[0], c_n[0]
    return lstm_run(run, d, dict(module.named_parameters()), device)


def assert_all_close(actual, expected):
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], err_msg=key, **TOL)


# -------------------------------------------------------------------------- LSTMVariant

@ALL
def test_module_matches_numpy_for_every_variant(rng, data, variant, cpu_path):
    params = make_params(rng, variant)
    module = LSTMVariant.from_numpy(params, variant=variant)
    assert_all_close(module_run(module, data), numpy_run(params, data, variant))


@ALL
def test_function_matches_numpy_for_every_variant(rng, data, variant):
    params = make_params(rng, variant)
    weights = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

    def run(X, h0, c0):
        return _VariantLSTM.apply(variant, X, h0, c0, *(weights[k] for k in (
            "W_ih", "W_hh", "b_ih", "b_hh")), *(weights.get(k) for k in PEEPHOLES))
    assert_all_close(lstm_run(run, data, weights), numpy_run(params, data, variant))


@ALL
def test_module_passes_autograd_gradcheck(variant):
    torch.manual_seed(0)
    module = LSTMVariant(3, 4, variant=variant, dtype=torch.float64)
    names = [n for n, _ in module.named_parameters()]
    weights = [p.detach().clone().requires_grad_() for p in module.parameters()]
    X, h0, c0 = (torch.randn(*s, dtype=torch.float64, requires_grad=True)
                 for s in ((3, 2, 3), (1, 2, 4), (1, 2, 4)))

    def f(X, h0, c0, *weights):
        Hs, (h_n, c_n) = torch.func.functional_call(module, dict(zip(names, weights)),
                                                    (X, (h0, c0)))
        return Hs, h_n, c_n

    assert torch.autograd.gradcheck(f, (X, h0, c0, *weights))


@ALL
def test_function_passes_autograd_gradcheck(variant):
    torch.manual_seed(1)
    lay = variants.VARIANTS[variant]
    G = len(lay.gates) * 4
    shapes = {"W_ih": (G, 3), "W_hh": (G, 4), "b_ih": (G,), "b_hh": (G,),
              **{k: (4,) for k in lay.peepholes}}
    weights = {k: torch.randn(*s, dtype=torch.float64, requires_grad=True)
               for k, s in shapes.items()}
    X, h0, c0 = (torch.randn(*s, dtype=torch.float64, requires_grad=True)
                 for s in ((3, 2, 3), (2, 4), (2, 4)))
    args = [weights[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")] + [
        weights.get(k) for k in PEEPHOLES]
    inputs = (X, h0, c0, *args)
    assert torch.autograd.gradcheck(lambda *a: _VariantLSTM.apply(variant, *a), inputs)


@ALL
def test_module_runs_the_kernel_of_its_layout(data, variant, cpu_path):
    module = LSTMVariant(I, H, variant=variant, dtype=torch.float64)
    Hs, _ = module(torch.from_numpy(data["X"]))
    name = type(Hs.grad_fn).__name__
    if variant == "np":                                        # torch's fused LSTM
        assert "Peephole" not in name and "Variant" not in name, name
    else:
        assert name == (cpu_path if variant in ("vanilla", "nfg")
                        else "_VariantLSTMBackward")


@pytest.mark.parametrize("variant", ["cifg", "np"])
def test_batch_first_is_the_transpose_of_time_major(rng, data, variant):
    params = make_params(rng, variant)
    X = torch.from_numpy(data["X"])
    with torch.no_grad():
        Hs, (h_n, c_n) = LSTMVariant.from_numpy(params, variant=variant)(X)
        Hs_bf, (h_bf, c_bf) = LSTMVariant.from_numpy(
            params, variant=variant, batch_first=True)(X.transpose(0, 1).contiguous())
    assert Hs_bf.shape == (B, T, H)
    torch.testing.assert_close(Hs_bf, Hs.transpose(0, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close((h_bf, c_bf), (h_n, c_n), rtol=1e-12, atol=1e-12)


@ALL
def test_from_numpy_to_numpy_round_trip_is_exact(rng, variant):
    params = make_params(rng, variant)
    back = LSTMVariant.from_numpy(params, variant=variant).to_numpy()
    assert set(back) == set(params)
    for name, value in params.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)


def test_from_numpy_refuses_the_parameters_of_another_variant(rng):
    with pytest.raises(ValueError, match=r"missing \['w_cf'\]"):
        LSTMVariant.from_numpy(make_params(rng, "cifg"), variant="vanilla")
    with pytest.raises(ValueError, match=r"variant must be one of"):
        LSTMVariant(I, H, variant="gru")


def test_load_arrays_wrong_shape_names_the_parameter(rng):
    module = LSTMVariant(I, H, variant="nog", dtype=torch.float64)
    params = make_params(rng, "nog")
    with pytest.raises(ValueError, match=r"parameter w_cf must have shape \(6,\)"):
        module.load_arrays({**params, "w_cf": params["w_cf"][:-1]})


@pytest.mark.parametrize("variant", ["cifg", "np"])
def test_forward_refuses_bad_input_naming_it(variant):
    module = LSTMVariant(I, H, variant=variant, dtype=torch.float64)
    X = torch.zeros(T, B, I, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^X must have shape \(T, B, 4\)"):
        module(X[..., :3])
    with pytest.raises(TypeError, match=r"^X must be torch.float64"):
        module(X.float())
    with pytest.raises(ValueError, match=r"^state c0 must have shape \(1, 3, 6\)"):
        module(X, (torch.zeros(1, B, H, dtype=torch.float64),
                   torch.zeros(B, H, dtype=torch.float64)))
    with pytest.raises(ValueError, match=r"^X must hold finite values"):
        module(X + float("nan"))
    with pytest.raises(ValueError, match=r"^state must be a pair"):
        module(X, torch.zeros(1, B, H, dtype=torch.float64))


# ----------------------------------------------------------------------------- GRU

def gru_run(module, d, names=None, device="cpu"):
    """Outputs and every gradient of sum(H * R) + sum(h_n * r_h), NumPy names."""
    t = {k: torch.tensor(v, device=device) for k, v in d.items()}
    X, h0 = (t[k].clone().requires_grad_() for k in ("X", "h0"))
    Hs, h_n = module(X, h0[None])
    assert h_n.shape == (1, B, H)
    ((Hs * t["R"]).sum() + (h_n[0] * t["r_h"]).sum()).backward()
    names = names or {}
    out = {"H": Hs, "h_T": h_n[0], "X": X.grad, "h0": h0.grad,
           **{"d" + names.get(n, n): p.grad for n, p in module.named_parameters()}}
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def test_gru_matches_nn_gru_outputs_and_every_gradient(rng, data):
    torch.manual_seed(0)
    reference = nn.GRU(I, H, dtype=torch.float64)
    ours = GRU.from_nn_gru(reference)
    nn_names = {v: k for k, v in NN_NAMES.items()}
    assert_all_close(gru_run(ours, data), gru_run(reference, data, nn_names))


def test_gru_matches_numpy_gru(rng, data):
    params = {k: 2.0 * v for k, v in np_gru.init_gru(I, H, rng=rng).items()}
    Hs, h_T, cache = np_gru.gru_forward(data["X"], params, data["h0"])
    grads, dX, dh0 = np_gru.gru_backward(data["R"], cache, data["r_h"])
    expected = {"H": Hs, "h_T": h_T, "X": dX, "h0": dh0,
                **{"d" + k: v for k, v in grads.items()}}
    assert_all_close(gru_run(GRU.from_numpy(params), data), expected)


def test_gru_passes_autograd_gradcheck():
    torch.manual_seed(0)
    module = GRU(3, 4, dtype=torch.float64)
    names = [n for n, _ in module.named_parameters()]
    weights = [p.detach().clone().requires_grad_() for p in module.parameters()]
    X = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)

    def f(X, h0, *weights):
        return torch.func.functional_call(module, dict(zip(names, weights)), (X, h0))

    assert torch.autograd.gradcheck(f, (X, h0, *weights))


def test_from_nn_gru_to_nn_gru_round_trip_keeps_names_and_weights():
    torch.manual_seed(0)
    original = nn.GRU(I, H, batch_first=True, dtype=torch.float64)
    module = GRU.from_nn_gru(original)
    assert {n: tuple(p.shape) for n, p in module.named_parameters()} == {
        "W_ih": (3 * H, I), "W_hh": (3 * H, H), "b_ih": (3 * H,), "b_hh": (3 * H,)}
    for name, nn_name in NN_NAMES.items():
        assert torch.equal(getattr(module, name), getattr(original, nn_name))
    back = module.to_nn_gru()
    assert type(back) is nn.GRU and back.batch_first
    theirs, ours = original.state_dict(), back.state_dict()
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key],
                                                                    theirs[key]), key


@pytest.mark.parametrize("kwargs, match", [
    ({"num_layers": 2}, "num_layers"), ({"bidirectional": True}, "bidirectional"),
    ({"bias": False}, "bias")], ids=["num_layers", "bidirectional", "bias"])
def test_from_nn_gru_refuses_unsupported_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GRU.from_nn_gru(nn.GRU(I, H, **kwargs))


def test_from_nn_gru_refuses_other_modules():
    with pytest.raises(TypeError, match=r"torch.nn.GRU, got LSTM"):
        GRU.from_nn_gru(nn.LSTM(I, H))


@pytest.mark.parametrize("key", ["W_ih", "W_hh", "b_ih", "b_hh"])
def test_gru_load_arrays_wrong_shape_names_the_parameter(rng, key):
    params = np_gru.init_gru(I, H, rng=rng)
    with pytest.raises(ValueError, match=rf"parameter {key} must have shape"):
        GRU(I, H, dtype=torch.float64).load_arrays({**params, key: params[key][:-1]})


def test_gru_from_numpy_refuses_lstm_parameters(rng):
    with pytest.raises(ValueError, match=r"must have shape \(3H, H\) for a GRU"):
        GRU.from_numpy(variants.init_lstm(I, H, variant="np", rng=rng))


def test_gru_batch_first_and_state_checks(rng, data):
    module = GRU.from_numpy(np_gru.init_gru(I, H, rng=rng))
    X = torch.from_numpy(data["X"])
    with torch.no_grad():
        Hs, h_n = module(X)
        module.batch_first = True
        Hs_bf, h_bf = module(X.transpose(0, 1))
    torch.testing.assert_close(Hs_bf, Hs.transpose(0, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_bf, h_n, rtol=1e-12, atol=1e-12)
    module.batch_first = False
    with pytest.raises(ValueError, match=r"^state h0 must have shape \(1, 3, 6\)"):
        module(X, torch.zeros(B, H, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"^X must be torch.float64"):
        module(X.float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_modules_keep_dtype(dtype):
    for module in (GRU(I, H, dtype=dtype), LSTMVariant(I, H, variant="cifg",
                                                        dtype=dtype)):
        Hs, _ = module(torch.zeros(T, B, I, dtype=dtype))
        assert Hs.dtype == dtype and {p.dtype for p in module.parameters()} == {dtype}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("variant", ["cifg", "vanilla", "np", "gru"])
def test_cuda_matches_cpu(rng, data, variant):
    if variant == "gru":
        params = np_gru.init_gru(I, H, rng=rng)
        cpu, gpu = GRU.from_numpy(params), GRU.from_numpy(params, device="cuda")
        run = gru_run
    else:
        params = make_params(rng, variant)
        cpu = LSTMVariant.from_numpy(params, variant=variant)
        gpu = LSTMVariant.from_numpy(params, variant=variant, device="cuda")
        run = module_run
    assert gpu.W_ih.is_cuda
    assert_all_close(run(gpu, data, device="cuda"), run(cpu, data))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"input_size": 0}, ValueError, r"^input_size must be a positive int"),
    ({"hidden_size": 0}, ValueError, r"^hidden_size must be a positive int"),
    ({"batch_first": 1}, TypeError, r"^batch_first must be True or False"),
    ({"dtype": torch.int32}, TypeError, r"^dtype must be"),
])
@pytest.mark.parametrize("make", ["variant", "gru"])
def test_constructors_check_every_argument(make, kwargs, error, match):
    args = {"input_size": I, "hidden_size": H, **kwargs}
    with pytest.raises(error, match=match):
        if make == "gru":
            GRU(**args)
        else:
            LSTMVariant(**args, variant="cifg")


def test_forward_checks_parameters_and_empty_input():
    module = LSTMVariant(I, H, variant="cifg", dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^X must have at least one time step"):
        module(torch.zeros(0, B, I, dtype=torch.float64))
    with torch.no_grad():
        module.w_ci.data = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^parameter w_ci must have shape \(6,\)"):
        module(torch.zeros(T, B, I, dtype=torch.float64))


def test_load_arrays_refuses_what_is_not_a_dict_of_its_names():
    module = LSTMVariant(I, H, variant="cifg", dtype=torch.float64)
    with pytest.raises(TypeError, match=r"^params must be a dict"):
        module.load_arrays([1, 2])
    with pytest.raises(ValueError, match=r"^params must have exactly the keys"):
        module.load_arrays({"W_ih": np.zeros((3 * H, I))})
