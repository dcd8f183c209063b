"""Inverted dropout: the kernels against the NumPy reference on every training
path, gradients at a fixed mask against central differences and PyTorch, the
masks' reproducibility and rate, and bad rates."""

import numpy as np
import pytest
from conftest import DTYPES, assert_matches, flatten

from annfast import _engine, _kernels, _params, reference

ISAS = list(range(_kernels.CPU_ISA + 1))
SIZES = [6, 9, 7, 3]
ACTS = ["tanh", "relu", "softmax"]
RATES = [0.3, 0.5]


def _problem(rng, dtype, n=24, sizes=SIZES):
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)].astype(dtype)
    params = (0.5 * rng.normal(size=_params.n_params(sizes))).astype(dtype)
    return X, Y, params


def _split(params, sizes=SIZES):
    W, B = _params.views(params, sizes, "flat")
    return [w.copy() for w in W], [b.copy() for b in B]


def _reference(params, X, Y, order, path, epochs, acts=ACTS, sizes=SIZES, rates=RATES,
               seed=11):
    """The reference after ``epochs`` epochs of ``path``, the counter 0, 1, ..."""
    W, B = _split(params, sizes)
    variables = [v for pair in zip(W, B) for v in pair]
    opt, bs = {"sgd": ("sgd", 1), "batch": ("adam", 3), "gemm": ("momentum", 8),
               "split": ("sgd", len(order))}.get(path, ("sgd", 1))
    state = reference.new_optimizer_state(opt, variables)
    t = 0
    for epoch in range(epochs):
        drop = {"dropout": rates, "dropout_seed": seed, "dropout_counter": epoch}
        if path in ("sgd", "sparse"):
            reference.sgd_epoch(W, B, acts, "ce", X, Y, order, 0.05, 0.01, **drop)
        else:
            _, t = reference.minibatch_epoch(W, B, acts, "ce", X, Y, order, bs, opt, state, t,
                                             lr=0.05, momentum=0.9, **drop)
    return flatten(W, B)


def _kernel(arch, params, X, Y, order, path, epochs, rates=RATES, seed=11):
    p = params.copy()
    dtype = p.dtype.type
    opt, bs = {"sgd": ("sgd", 1), "batch": ("adam", 3), "gemm": ("momentum", 8)}.get(
        path, ("sgd", 1))
    state = np.zeros(_kernels.opt_state_size(opt, len(p)), dtype=dtype)
    t = 0
    for epoch in range(epochs):
        drop = {"dropout": rates, "dropout_seed": seed, "dropout_counter": epoch}
        if path == "sparse":
            rows = np.repeat(np.arange(len(X)), X.shape[1])
            data, indices = X.ravel(), np.tile(np.arange(X.shape[1]), len(X))
            keep = data != 0
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=len(X)))])
            status, _, _ = _kernels.train_sparse(arch, p, data[keep].copy(),
                                                 indices[keep].astype(np.int64),
                                                 indptr.astype(np.int64), Y, order, lr=0.05,
                                                 l2=0.01, **drop)
        elif path == "split":
            # The engine's large-batch path: the gradient summed over two calls, one step.
            half = len(order) // 2
            grad = sum(_kernels.batch_gradient(arch, p, X, Y, part, **drop)[0]
                       for part in (order[:half], order[half:]))
            _kernels.apply_gradient(arch, p, state, grad, len(order), lr=0.05)
            status = _kernels.OK
        else:
            status, _, _, t = _kernels.train(arch, p, state, X, Y, order, batch_size=bs,
                                             optimizer=opt, lr=0.05,
                                             l2=0.01 if path == "sgd" else 0.0, momentum=0.9,
                                             t=t, **drop)
        assert status == _kernels.OK
    return p


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["sgd", "sparse", "batch", "gemm", "split"])
def test_kernel_matches_reference_after_whole_epochs(path, dtype, isa):
    rng = np.random.default_rng(3)
    X, Y, params = _problem(rng, dtype)
    if path == "sparse":
        X[rng.random(X.shape) < 0.6] = 0
    # float32 goes through smooth units only: a relu near its kink may flip
    # between float32 and the float64 reference.
    acts = ACTS if dtype is np.float64 else ["tanh", "sigmoid", "softmax"]
    arch = _kernels.Arch(SIZES, acts, "ce", isa=isa)
    order = rng.permutation(len(X)).astype(np.int64)
    got = _kernel(arch, params, X, Y, order, path, epochs=2)
    expected = _reference(params.astype(np.float64), X.astype(np.float64),
                          Y.astype(np.float64), order, path, epochs=2, acts=acts)
    assert_matches(got, expected, dtype, f"{path} {_kernels.isa_name(isa)}")
    # Dropout did something: without it the result is another one.
    without = _reference(params.astype(np.float64), X.astype(np.float64),
                         Y.astype(np.float64), order, path, epochs=2, acts=acts,
                         rates=[0.0, 0.0])
    assert np.max(np.abs(without - expected)) > 1e-3


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_isa_draws_the_reference_masks(dtype, isa):
    # With identity hidden units and a batch of one row, the second layer's
    # weight gradient is delta a^T with a dropped: its zero columns are the mask.
    sizes = [5, 64, 4]
    rng = np.random.default_rng(4)
    X, Y, params = _problem(rng, dtype, n=40, sizes=sizes)
    arch = _kernels.Arch(sizes, ["identity", "identity"], "mse", isa=isa)
    n_w0 = sizes[0] * sizes[1] + sizes[1]
    for row in range(len(X)):
        grad = _kernels.batch_gradient(arch, params, X, Y, np.array([row], np.int64),
                                       dropout=[0.4], dropout_seed=5, dropout_counter=2)[0]
        gw1 = grad[n_w0:n_w0 + sizes[1] * sizes[2]].reshape(sizes[2], sizes[1])
        kept = np.any(gw1 != 0, axis=0)
        factors = reference.dropout_factors(5, 2, row, 0, sizes[1], 0.4)
        np.testing.assert_array_equal(kept, factors != 0)


def test_rate_zero_is_the_path_without_dropout_bit_for_bit():
    rng = np.random.default_rng(5)
    X, Y, params = _problem(rng, np.float64)
    arch = _kernels.Arch(SIZES, ACTS, "ce")
    order = rng.permutation(len(X)).astype(np.int64)
    for bs in (1, 3, 8):
        a, b = params.copy(), params.copy()
        _kernels.train(arch, a, np.empty(0), X, Y, order, batch_size=bs, lr=0.1)
        _kernels.train(arch, b, np.empty(0), X, Y, order, batch_size=bs, lr=0.1,
                       dropout=[0.0, 0.0], dropout_seed=3)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_same_seed_same_bits_other_seed_or_counter_other_masks(batch_size):
    rng = np.random.default_rng(6)
    X, Y, params = _problem(rng, np.float32)
    arch = _kernels.Arch(SIZES, ACTS, "ce")
    order = rng.permutation(len(X)).astype(np.int64)

    def run(seed, counter):
        p = params.copy()
        _kernels.train(arch, p, np.empty(0, np.float32), X, Y, order, batch_size=batch_size,
                       lr=0.1, dropout=RATES, dropout_seed=seed, dropout_counter=counter)
        return p

    np.testing.assert_array_equal(run(1, 0), run(1, 0))
    assert not np.array_equal(run(1, 0), run(2, 0))
    assert not np.array_equal(run(1, 0), run(1, 1))
    masks = [reference.dropout_factors(s, c, 0, 0, 256, 0.5) for s, c in ((1, 0), (2, 0), (1, 1))]
    assert all((masks[0] != m).mean() > 0.3 for m in masks[1:])


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5, 0.9])
def test_empirical_drop_fraction_is_the_rate(rate):
    n = 0
    dropped = 0
    for row in range(200):
        for layer in range(2):
            f = reference.dropout_factors(9, 0, row, layer, 100, rate)
            dropped += int(np.sum(f == 0))
            n += f.size
            assert set(np.unique(f)) <= {0.0, 1.0 / (1.0 - rate)}
    # 40,000 draws: 5 standard deviations.
    assert abs(dropped / n - rate) < 5 * np.sqrt(rate * (1 - rate) / n)


def test_gradient_at_a_fixed_mask_equals_central_differences():
    sizes = [4, 6, 5, 2]
    acts = ["tanh", "sigmoid", "identity"]
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 4))
    Y = rng.normal(size=(5, 2))
    params = 0.7 * rng.normal(size=_params.n_params(sizes))
    arch = _kernels.Arch(sizes, acts, "mse")
    drop = {"dropout": [0.5, 0.3], "dropout_seed": 2, "dropout_counter": 4}
    grad, _ = _kernels.gradient(arch, params, X, Y, **drop)
    numeric = np.empty_like(params)
    h = 1e-6
    for i in range(len(params)):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (_kernels.gradient(arch, up, X, Y, **drop)[1]
                      - _kernels.gradient(arch, down, X, Y, **drop)[1]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # Some weights see only dropped inputs for every sample and get no gradient.
    plain, _ = _kernels.gradient(arch, params, X, Y)
    assert not np.allclose(grad, plain)


@pytest.mark.parametrize("batch_size,optimizer", [(1, "sgd"), (8, "sgd"), (8, "adam")])
def test_one_update_equals_torch_autograd(batch_size, optimizer):
    torch = pytest.importorskip("torch")
    sizes = [5, 8, 6, 3]
    acts = ["relu", "tanh", "identity"]
    rng = np.random.default_rng(8)
    X = rng.normal(size=(batch_size, 5))
    Y = rng.normal(size=(batch_size, 3))
    params = 0.5 * rng.normal(size=_params.n_params(sizes))
    rates, seed, counter = [0.25, 0.5], 13, 1
    arch = _kernels.Arch(sizes, acts, "mse")
    p = params.copy()
    state = np.zeros(_kernels.opt_state_size(optimizer, len(p)))
    order = np.arange(batch_size, dtype=np.int64)
    # epsilon: Adam's sits elsewhere in torch; tiny, it only keeps 0 / 0 (a
    # weight whose inputs were all dropped) at 0 in both.
    _kernels.train(arch, p, state, X, Y, order, batch_size=batch_size, optimizer=optimizer,
                   lr=0.1, epsilon=1e-30, dropout=rates, dropout_seed=seed,
                   dropout_counter=counter)

    W, B = _split(params, sizes)
    tw = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in W]
    tb = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in B]
    masks = [torch.tensor(np.array([reference.dropout_factors(seed, counter, r, k,
                                                              sizes[k + 1], rates[k])
                                    for r in range(batch_size)]))
             for k in range(2)]
    a = torch.tensor(X)
    for k in range(3):
        a = a @ tw[k].T + tb[k]
        a = torch.relu(a) if acts[k] == "relu" else torch.tanh(a) if acts[k] == "tanh" else a
        if k < 2:
            a = a * masks[k]
    loss = 0.5 * ((a - torch.tensor(Y)) ** 2).sum() / batch_size
    variables = [v for pair in zip(tw, tb) for v in pair]
    opt = (torch.optim.SGD(variables, lr=0.1) if optimizer == "sgd"
           else torch.optim.Adam(variables, lr=0.1, eps=1e-30))
    opt.zero_grad()
    loss.backward()
    opt.step()
    expected = flatten([w.detach().numpy() for w in tw], [b.detach().numpy() for b in tb])
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-9)
    assert np.max(np.abs(p - params)) > 1e-3


@pytest.mark.parametrize("bad", [[-0.1, 0.2], [0.2, 1.0], [0.2, float("nan")], [0.2],
                                 [0.1, 0.2, 0.3], "x"])
def test_bad_rates_raise_before_anything_changes(bad):
    rng = np.random.default_rng(9)
    X, Y, params = _problem(rng, np.float64)
    arch = _kernels.Arch(SIZES, ACTS, "ce")
    order = np.arange(len(X), dtype=np.int64)
    before = params.copy()
    with pytest.raises(ValueError, match="dropout"):
        _kernels.train(arch, params, np.empty(0), X, Y, order, dropout=bad)
    np.testing.assert_array_equal(params, before)
    network = _engine.Network(SIZES, ACTS, "ce", np.float64)
    update = _engine.Update(lr=0.1, dropout=bad)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    with pytest.raises(ValueError, match="dropout"):
        _engine.train_epoch(network, params, data, Y, order, update)
    with pytest.raises(ValueError, match="dropout_seed"):
        _kernels.train(arch, params, np.empty(0), X, Y, order, dropout=[0.1, 0.1],
                       dropout_seed=-1)
    np.testing.assert_array_equal(params, before)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_engine_draws_fresh_masks_each_epoch_and_reproduces_them(batch_size):
    rng = np.random.default_rng(10)
    X, Y, params = _problem(rng, np.float64)
    network = _engine.Network(SIZES, ACTS, "ce", np.float64)
    update = _engine.Update(lr=0.05, batch_size=batch_size, dropout=RATES, dropout_seed=11)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    order = rng.permutation(len(X)).astype(np.int64)
    opt = _engine.OptimizerState.fresh(update, network.n_params, np.float64)

    two = _engine.fit(network, params, data, Y, epochs=2, update=update, opt=opt,
                      order=lambda e: order)
    assert two.opt.dropout_counter == 2
    one = _engine.fit(network, params, data, Y, epochs=1, update=update, opt=opt,
                      order=lambda e: order)
    again = _engine.fit(network, one.params, data, Y, epochs=1, update=update, opt=one.opt,
                        order=lambda e: order)
    np.testing.assert_array_equal(again.params, two.params)  # two fit calls = one of two epochs
    assert opt.dropout_counter == 0  # the caller's state is never written
    # The engine's result is the reference's with the counter at 0 then 1.
    path = "sgd" if batch_size == 1 else None
    W, B = _split(params)
    for epoch in range(2):
        drop = {"dropout": RATES, "dropout_seed": 11, "dropout_counter": epoch}
        if path == "sgd":
            reference.sgd_epoch(W, B, ACTS, "ce", X, Y, order, 0.05, **drop)
        else:
            state = reference.new_optimizer_state("sgd", [v for pr in zip(W, B) for v in pr])
            reference.minibatch_epoch(W, B, ACTS, "ce", X, Y, order, batch_size, "sgd", state,
                                      lr=0.05, **drop)
    assert_matches(two.params, flatten(W, B), np.float64, "engine")


def test_engine_split_batches_draw_the_masks_of_one_call(monkeypatch):
    rng = np.random.default_rng(12)
    X, Y, params = _problem(rng, np.float64, n=40)
    network = _engine.Network(SIZES, ACTS, "ce", np.float64)
    update = _engine.Update(lr=0.05, batch_size=20, optimizer="adam", dropout=RATES,
                            dropout_seed=3)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    order = rng.permutation(len(X)).astype(np.int64)
    opt = _engine.OptimizerState.fresh(update, network.n_params, np.float64)
    whole = _engine.train_epoch(network, params, data, Y, order, update, opt)
    monkeypatch.setattr(_engine, "WORK_PER_CALL", data.work_per_sample * 7)  # 7 rows a call
    split = _engine.train_epoch(network, params, data, Y, order, update, opt)
    assert whole.status is split.status is _engine.Status.DONE
    np.testing.assert_allclose(split.params, whole.params, rtol=0, atol=1e-12)


def test_prediction_never_drops():
    rng = np.random.default_rng(13)
    X, Y, params = _problem(rng, np.float64)
    network = _engine.Network(SIZES, ACTS, "ce", np.float64)
    update = _engine.Update(lr=0.0, dropout=[0.5, 0.5], dropout_seed=1)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    order = np.arange(len(X), dtype=np.int64)
    result = _engine.train_epoch(network, params, data, Y, order, update)
    np.testing.assert_array_equal(result.params, params)  # lr 0: nothing moved
    W, B = _split(params)
    expected = reference.predict(W, B, ACTS, X)
    got = _engine.predict(network, params, _engine.as_inputs(X, np.float64))
    assert_matches(got, expected, np.float64, "predict")
    # Training's loss saw the masks: it is not the loss of those predictions.
    plain = -np.sum(Y * np.log(expected))
    assert abs(result.loss_sum - plain) > 1e-3
