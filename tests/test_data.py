import numpy as np
import pytest

from lstm_core import data

SEED = 0
GEN = np.random.default_rng(SEED)  # only for calls that must fail before drawing


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)


@pytest.fixture
def embedded_strings(rng):
    return [data.embedded_reber(rng) for _ in range(2000)]


def symbol(c):
    return np.eye(len(data.SYMBOLS))[data.SYMBOLS.index(c)]


# Embedded Reber grammar


def test_known_reber_strings_are_valid():
    for s in ["BTSSXXTVVE", "BPVVE", "BTXSE", "BPTVPSE", "BTSXXVPSE"]:
        assert data.is_reber(s), s


def test_known_invalid_reber_strings_are_rejected():
    for s in ["", "BTSSXXTVV", "BTSSXXTVVEE", "BTXXE", "TSXSE", "BPVVA", "BPE"]:
        assert not data.is_reber(s), s


def test_generated_reber_strings_are_valid(rng):
    strings = [data.reber(rng) for _ in range(500)]
    assert all(data.is_reber(s) for s in strings)
    assert len(set(strings)) > 50  # the generator explores the graph


def test_generated_embedded_strings_are_valid(embedded_strings):
    assert all(data.is_embedded_reber(s) for s in embedded_strings)


def test_generated_embedded_strings_wrap_a_reber_string(embedded_strings):
    assert all(data.is_reber(s[2:-2]) for s in embedded_strings)


def test_second_to_last_symbol_repeats_the_second(embedded_strings):
    assert all(s[-2] == s[1] for s in embedded_strings)


def test_branches_are_equally_likely(embedded_strings):
    n_t = sum(s[1] == "T" for s in embedded_strings)
    assert {s[1] for s in embedded_strings} == {"T", "P"}
    assert abs(n_t / len(embedded_strings) - 0.5) < 0.05


def test_inner_branches_are_equally_likely(embedded_strings):
    n_t = sum(s[3] == "T" for s in embedded_strings)
    assert abs(n_t / len(embedded_strings) - 0.5) < 0.05


def test_known_embedded_strings_are_classified():
    assert data.is_embedded_reber("BTBTSSXXTVVETE")
    assert data.is_embedded_reber("BPBPVVEPE")
    assert not data.is_embedded_reber("BTSSXXTVVE")  # not embedded
    assert not data.is_embedded_reber("BTBTSSXXTVVEPE")  # mismatched branch
    assert not data.is_embedded_reber("BTBTSSXXTVVSTE")  # wrong symbol
    assert not data.is_embedded_reber("BTBTSSXXTVVET")  # truncated
    assert not data.is_embedded_reber("BTBTSSXXTVVETEB")  # trailing symbol
    assert not data.is_embedded_reber("BTBTSAXXTVVETE")  # foreign symbol


def test_generation_is_deterministic_under_seed():
    a = [data.embedded_reber(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]


def test_next_symbols_on_known_string():
    s = "BTBPVVETE"
    sets = data.next_symbols(s)
    assert len(sets) == len(s) - 1
    assert sets == [{"T", "P"}, {"B"}, {"T", "P"}, {"T", "V"}, {"P", "V"}, {"E"},
                    {"T"}, {"E"}]


def test_next_symbols_of_plain_reber_string():
    sets = data.next_symbols("BTSSXXTVVE", embedded=False)
    assert sets[:4] == [{"T", "P"}, {"S", "X"}, {"S", "X"}, {"S", "X"}]
    assert sets[-1] == {"E"}


def test_next_symbols_contain_actual_next_symbol(embedded_strings):
    for s in embedded_strings[:200]:
        assert all(s[t + 1] in legal for t, legal in enumerate(data.next_symbols(s)))


def test_next_symbols_before_second_to_last_is_the_branch(embedded_strings):
    for s in embedded_strings[:200]:
        assert data.next_symbols(s)[len(s) - 3] == {s[1]}


# Encoding


@pytest.fixture
def batch(embedded_strings):
    strings = embedded_strings[:50]
    return strings, data.encode_strings(strings)


def test_encode_strings_shapes(batch):
    strings, (X, Y, mask) = batch
    T = max(len(s) for s in strings) - 1
    assert X.shape == Y.shape == (T, 50, 7)
    assert mask.shape == (T, 50)
    assert X.dtype == Y.dtype == mask.dtype == np.float64


def test_encode_strings_mask_marks_real_steps(batch):
    strings, (X, Y, mask) = batch
    np.testing.assert_array_equal(mask.sum(0), [len(s) - 1 for s in strings])
    np.testing.assert_array_equal(mask[0], 1.0)  # real steps come first


def test_inputs_are_one_hot_on_real_steps_and_zero_on_padding(batch):
    _, (X, Y, mask) = batch
    np.testing.assert_array_equal(X.sum(-1), mask)
    np.testing.assert_array_equal(Y.sum(-1) > 0, mask > 0)


def test_inputs_decode_to_the_strings(batch):
    strings, (X, _, _) = batch
    assert [data.decode(X[:, b]) for b in range(len(strings))] == [
        s[:-1] for s in strings
    ]


def test_targets_contain_actual_next_symbol(batch):
    strings, (_, Y, _) = batch
    for b, s in enumerate(strings):
        nxt = np.array([data.SYMBOLS.index(c) for c in s[1:]])
        np.testing.assert_array_equal(Y[np.arange(len(s) - 1), b, nxt], 1.0)


def test_target_at_second_to_last_step_is_the_branch(batch):
    strings, (X, Y, _) = batch
    steps = data.second_to_last_step(strings)
    np.testing.assert_array_equal(steps, [len(s) - 3 for s in strings])
    for b, (s, t) in enumerate(zip(strings, steps)):
        np.testing.assert_array_equal(X[t, b], symbol("E"))  # the inner E
        np.testing.assert_array_equal(Y[t, b], symbol(s[1]))


def test_encode_strings_honours_dtype(embedded_strings):
    X, Y, mask = data.encode_strings(embedded_strings[:3], dtype=np.float32)
    assert X.dtype == Y.dtype == mask.dtype == np.float32


# Continual stream


def test_reber_stream_is_concatenated_embedded_strings():
    stream = data.reber_stream(np.random.default_rng(SEED), 20)
    rng = np.random.default_rng(SEED)
    assert stream == "".join(data.embedded_reber(rng) for _ in range(20))


def test_stream_after_each_final_e_comes_b(rng):
    strings = [data.embedded_reber(rng) for _ in range(20)]
    X, Y = data.encode_stream("".join(strings))
    ends = np.cumsum([len(s) for s in strings])[:-1] - 1  # each final E but last
    assert X.shape == Y.shape == (sum(map(len, strings)) - 1, 1, 7)
    for t in ends:
        np.testing.assert_array_equal(X[t, 0], symbol("E"))
        np.testing.assert_array_equal(Y[t, 0], symbol("B"))


def test_stream_targets_match_per_string_targets(rng):
    strings = [data.embedded_reber(rng) for _ in range(5)]
    _, Y = data.encode_stream("".join(strings))
    start = 0
    for s in strings:
        _, Ys, _ = data.encode_strings([s])
        np.testing.assert_array_equal(Y[start : start + len(s) - 1], Ys)
        start += len(s)


# Sine data


def test_sine_windows_sizes_match_seed_tutorial():
    w = data.sine_windows()
    # the tutorial prints "train size : 22, test size : 23"
    assert (w.train_size, w.X_test.shape[1]) == (22, 23)


def test_train_size_truncates_like_the_tutorial():
    assert data.sine_windows(train_ratio=0.7).train_size == 31  # int(31.5)


def test_sine_windows_are_time_major():
    w = data.sine_windows()
    assert w.x.shape == w.y.shape == (50,)
    assert w.X_train.shape == (5, 22, 1) and w.y_train.shape == (22, 1)
    assert w.X_test.shape == (5, 23, 1) and w.y_test.shape == (23, 1)


def test_first_window_and_target():
    w = data.sine_windows()
    y = np.sin(np.linspace(-10, 10, 50))
    np.testing.assert_array_equal(w.X_train[:, 0, 0], y[0:5])
    assert w.y_train[0, 0] == y[5]


def test_test_windows_continue_after_train_windows():
    w = data.sine_windows()
    np.testing.assert_array_equal(w.X_test[:, 0, 0], w.y[22:27])
    np.testing.assert_array_equal(w.y_test[:, 0], w.y[27:])


def test_sine_waves_shape_and_range(rng):
    waves = data.sine_waves(n_waves=8, length=300, rng=rng)
    assert waves.shape == (300, 8) and waves.dtype == np.float64
    assert np.all(np.abs(waves) <= 1.0)


def test_sine_waves_deterministic_under_seed():
    a = data.sine_waves(5, 50, rng=np.random.default_rng(3))
    b = data.sine_waves(5, 50, rng=np.random.default_rng(3))
    c = data.sine_waves(5, 50, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_random_walks_steps_and_seed():
    x = data.random_walks(4, 300, rng=np.random.default_rng(3))
    assert x.shape == (300, 4) and x.dtype == np.float64
    e = np.random.default_rng(3).standard_normal((300, 4))
    np.testing.assert_allclose(x, np.cumsum(e, axis=0), atol=1e-12)   # momentum 0
    assert not np.allclose(x, data.random_walks(4, 300, rng=np.random.default_rng(4)))
    f = data.random_walks(2, 5, momentum=0.5, rng=np.random.default_rng(3),
                          dtype=np.float32)
    e = np.random.default_rng(3).standard_normal((5, 2))
    d = np.diff(f.astype(np.float64), axis=0, prepend=0)       # (5, 2): the steps
    np.testing.assert_allclose(d[1:], 0.5 * d[:-1] + e[1:], atol=1e-5)
    assert f.dtype == np.float32


def test_random_walks_persistence_is_optimal_only_without_momentum():
    """The skill of x_t + m (x_t - x_{t-1}) over persistence is about m^2."""
    for m in (0.0, 0.5):
        x = data.random_walks(200, 400, momentum=m, rng=np.random.default_rng(0))
        target = x[2:]
        mse_persist = np.mean((x[1:-1] - target) ** 2)
        mse_best = np.mean((x[1:-1] + m * (x[1:-1] - x[:-2]) - target) ** 2)
        assert abs((1 - mse_best / mse_persist) - m ** 2) < 0.02


@pytest.mark.parametrize("kw,err,match", [
    ({"momentum": 1.0}, ValueError, r"momentum must be a finite number in \(-1"),
    ({"momentum": "0.5"}, TypeError, "momentum must be a real number"),
    ({"n_walks": 0}, ValueError, "n_walks"),
    ({"length": 2.5}, TypeError, "length"),
    ({"rng": 3}, TypeError, "rng"),
])
def test_random_walks_refuses_bad_arguments(kw, err, match):
    args = {"n_walks": 2, "length": 5, "rng": np.random.default_rng(0)} | kw
    with pytest.raises(err, match=match):
        data.random_walks(**args)


def test_sine_waves_phase_shifts_lie_in_range(rng):
    period, length = 20.0, 200
    waves = data.sine_waves(n_waves=100, length=length, period=period, rng=rng)
    candidates = np.arange(-200, 201)
    t = np.arange(length)[:, None] + candidates  # (L, K)
    table = np.sin(t / period)
    # each wave equals exactly one candidate shift
    err = np.abs(waves[:, :, None] - table[:, None, :]).max(0)  # (N, K)
    assert np.all(np.sort(err, axis=1)[:, 1] > 1e-3)
    shifts = candidates[err.argmin(1)]
    assert shifts.min() >= -80 and shifts.max() < 80
    assert shifts.min() < -40 and shifts.max() > 40


def test_next_step_pairs_shift_by_one(rng):
    waves = data.sine_waves(4, 30, rng=rng)
    X, Y = data.next_step_pairs(waves)
    assert X.shape == Y.shape == (29, 4, 1)
    np.testing.assert_array_equal(X[1:], Y[:-1])
    np.testing.assert_array_equal(X[0, :, 0], waves[0])
    np.testing.assert_array_equal(Y[-1, :, 0], waves[-1])


# Bad input


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: data.reber(0), TypeError, "rng"),
        (lambda: data.embedded_reber(None), TypeError, "rng"),
        (lambda: data.reber_stream(GEN, 0), ValueError, "n_strings"),
        (lambda: data.reber_stream(GEN, 2.0), TypeError, "n_strings"),
        (lambda: data.is_reber(None), TypeError, "s must be a str"),
        (lambda: data.is_embedded_reber(["B"]), TypeError, "s must be a str"),
        (lambda: data.next_symbols("BTSSXXTVVE"), ValueError, "s must be"),
        (lambda: data.next_symbols("BTBTAXSETE"), ValueError, "s must use"),
        (lambda: data.encode_strings([]), ValueError, "strings"),
        (lambda: data.encode_strings("BTBTXSETE"), TypeError, "strings"),
        (lambda: data.encode_strings(["BTBTXSETE", 3]), TypeError, r"strings\[1\]"),
        (lambda: data.encode_strings(["BTBTXSETE", "BQ"]), ValueError, r"strings\[1\]"),
        (lambda: data.second_to_last_step([]), ValueError, "strings"),
        (lambda: data.encode_stream("BTBTXSETEB"), ValueError, "s must be"),
        (lambda: data.decode(np.zeros((3, 5))), ValueError, "onehot"),
        (lambda: data.sine_windows(n_points=0), ValueError, "n_points"),
        (lambda: data.sine_windows(look_back=60), ValueError, "look_back"),
        (lambda: data.sine_windows(look_back=0), ValueError, "look_back"),
        (lambda: data.sine_windows(look_back=2.5), TypeError, "look_back"),
        (lambda: data.sine_windows(train_ratio=1.0), ValueError, "train_ratio"),
        (lambda: data.sine_windows(train_ratio=0.0), ValueError, "train_ratio"),
        (lambda: data.sine_windows(x_range=(1.0, -1.0)), ValueError, "x_range"),
        (lambda: data.sine_waves(rng=None), TypeError, "rng"),
        (lambda: data.sine_waves(0, rng=GEN), ValueError, "n_waves"),
        (lambda: data.sine_waves(length=-1, rng=GEN), ValueError, "length"),
        (lambda: data.sine_waves(period=0.0, rng=GEN), ValueError, "period"),
        (lambda: data.sine_waves(period="20", rng=GEN), TypeError, "period"),
        (lambda: data.next_step_pairs([1.0, 2.0]), TypeError, "waves"),
        (lambda: data.next_step_pairs(np.zeros((1, 3))), ValueError, "waves"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_look_back_message_says_expected_and_got():
    with pytest.raises(ValueError, match=r"smaller than n_points \(50\), got 60"):
        data.sine_windows(look_back=60)


# Two-sequence task (Hochreiter & Schmidhuber 1997, experiment 2a)


def test_two_sequences_shapes_and_dtype(rng):
    X, labels = data.two_sequences(7, 5, rng)
    assert X.shape == (7, 5, 8) and X.dtype == np.float64
    assert labels.shape == (5,) and labels.dtype == np.int64
    assert data.two_sequences(3, 2, rng, dtype=np.float32)[0].dtype == np.float32


def test_two_sequences_inputs_are_one_hot(rng):
    X, _ = data.two_sequences(6, 50, rng)
    np.testing.assert_array_equal(X.sum(-1), np.ones((6, 50)))
    assert set(np.unique(X)) == {0.0, 1.0}


def test_two_sequences_last_symbol_is_the_first(rng):
    p = 10
    X, labels = data.two_sequences(p, 200, rng)
    np.testing.assert_array_equal(X[0].argmax(-1), labels)
    assert set(labels) == {p - 1, p}  # x and y


def test_two_sequences_share_a1_to_a_p_minus_1(rng):
    p = 6
    X, _ = data.two_sequences(p, 20, rng)
    middle = X[1:].argmax(-1)  # (p - 1, n)
    np.testing.assert_array_equal(middle, np.tile(np.arange(p - 1)[:, None], (1, 20)))


def test_two_sequences_classes_are_equally_likely(rng):
    _, labels = data.two_sequences(4, 4000, rng)
    assert abs(np.mean(labels == 4) - 0.5) < 0.03


def test_two_sequences_with_lag_one_has_only_the_first_symbol(rng):
    X, labels = data.two_sequences(1, 8, rng)
    assert X.shape == (1, 8, 2)
    np.testing.assert_array_equal(X[0].argmax(-1), labels)


def test_two_sequences_deterministic_under_seed():
    a = data.two_sequences(5, 30, np.random.default_rng(3))
    b = data.two_sequences(5, 30, np.random.default_rng(3))
    c = data.two_sequences(5, 30, np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: data.two_sequences(0, 4, GEN), ValueError, "p must be"),
        (lambda: data.two_sequences(5.0, 4, GEN), TypeError, "p must be"),
        (lambda: data.two_sequences(True, 4, GEN), TypeError, "p must be"),
        (lambda: data.two_sequences(5, 0, GEN), ValueError, "n must be"),
        (lambda: data.two_sequences(5, "4", GEN), TypeError, "n must be"),
        (lambda: data.two_sequences(5, 4, 0), TypeError, "rng must be"),
    ],
)
def test_two_sequences_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
