"""Optimizer steps of ``_kernels.train`` against PyTorch: autograd for the
gradient (penalties included) and torch.optim / torch.nn.utils for the update,
to 1e-9 in float64.

Keras (whose rules the kernel follows) and torch differ in a few places; the
parameters below are chosen so both compute the same numbers, and each place
is named:

* Adam/AdamW/amsgrad: Keras adds epsilon to sqrt(v) before the bias correction
  of v, torch after: Keras' eps equals torch's eps * sqrt(1 - beta2^t).  With
  eps = 0 they agree on every step; a non-zero eps is mapped for step 1.
* Adagrad and RMSprop: Keras puts eps inside the square root, torch outside:
  they agree at eps = 0.  RMSprop's momentum buffer holds lr-scaled steps in
  Keras, unscaled in torch: the same while lr stays constant.
* Adamax: Keras divides by (u + eps), torch takes max(beta2 u, |g| + eps): the
  same on the first step only.
* NAdam: torch's schedule is 0.96^(t * momentum_decay); Keras' is 0.96^t, that
  is momentum_decay = 1 (torch's default, 0.004, differs).  torch keeps the
  product of the schedule in the default dtype (float32 unless set).
* clip_grad_norm_ divides by (norm + 1e-6), Keras by norm: max_norm is scaled
  by (norm + 1e-6) / norm here to ask torch for Keras' factor.
* Adadelta and clip_grad_value_ are the same rule.
"""

import numpy as np
import pytest
from conftest import make_data, random_params, ref_layers

from annfast import _kernels
from annfast.activations import ACTIVATIONS, LOSSES

torch = pytest.importorskip("torch")

SIZES = [4, 6, 3]
N = 9


@pytest.fixture(autouse=True)
def float64_default():
    """torch keeps NAdam's mu_product (and other scalars) in the default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
PENALTIES = np.array([[1e-3, 2e-2, 5e-3, 0.0], [0.0, 1e-2, 0.0, 3e-2]])


def setup(seed=0):
    rng = np.random.default_rng(seed)
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, N, SIZES, "ce", np.float64)
    return arch, params, X, Y


def torch_vars(params):
    weights, biases = ref_layers(params, SIZES)
    return [torch.tensor(v, dtype=torch.float64, requires_grad=True)
            for pair in zip(weights, biases) for v in pair]


def torch_loss(variables, X, Y, penalties=None):
    """Mean categorical cross-entropy of the tanh/softmax net, plus Keras' penalties."""
    W0, b0, W1, b1 = variables
    h = torch.tanh(torch.as_tensor(X) @ W0.T + b0)
    z = h @ W1.T + b1
    loss = -(torch.as_tensor(Y) * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
    if penalties is not None:
        for i, v in enumerate(variables):
            l1, l2 = penalties[i // 2][2 * (i % 2):2 * (i % 2) + 2]
            loss = loss + l1 * v.abs().sum() + l2 * (v * v).sum()
    return loss


def flat(variables):
    return np.concatenate([v.detach().numpy().ravel() for v in variables])


def keras_clip_norm(variables, clip):
    """torch's clip_grad_norm_ asked for Keras' factor clip / norm (see above)."""
    norm = float(torch.sqrt(sum((v.grad ** 2).sum() for v in variables)))
    torch.nn.utils.clip_grad_norm_(variables, clip * (norm + 1e-6) / norm)
    return norm


def run(optimizer, options, make_torch, steps, clip=None, penalties=None):
    arch, params, X, Y = setup()
    tv = torch_vars(params)
    topt = make_torch(tv)
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    state = np.zeros(_kernels.opt_state_size(optimizer, params.size, **flags))
    t = 0
    clipped = []
    for _ in range(steps):
        status, loss_sum, done, t = _kernels.train(arch, params, state, X, Y, np.arange(N), N,
                                                   optimizer, t=t, penalties=penalties,
                                                   **options)
        assert (status, done) == (_kernels.OK, N)
        topt.zero_grad()
        loss = torch_loss(tv, X, Y, penalties)
        loss.backward()
        if clip is not None:
            clipped.append(clip(tv))
        topt.step()
        assert loss_sum / N == pytest.approx(float(loss.detach()), rel=1e-12)
    np.testing.assert_allclose(params, flat(tv), rtol=0, atol=1e-9)
    assert np.max(np.abs(params - setup()[1])) > 1e-3  # it moved
    return clipped


B = {"beta1": 0.85, "beta2": 0.99}
CASES = {
    "adagrad": ("adagrad", {"lr": 0.1, "epsilon": 0.0, "initial_accumulator_value": 0.1},
                lambda v: torch.optim.Adagrad(v, lr=0.1, initial_accumulator_value=0.1, eps=0.0),
                3),
    "adadelta": ("adadelta", {"lr": 1.0, "rho": 0.9, "epsilon": 1e-6},
                 lambda v: torch.optim.Adadelta(v, lr=1.0, rho=0.9, eps=1e-6), 3),
    "adamax": ("adamax", {"lr": 0.02, **B, "epsilon": 1e-7},
               lambda v: torch.optim.Adamax(v, lr=0.02, betas=(0.85, 0.99), eps=1e-7), 1),
    "nadam": ("nadam", {"lr": 0.02, **B, "epsilon": 1e-7},
              lambda v: torch.optim.NAdam(v, lr=0.02, betas=(0.85, 0.99), eps=1e-7,
                                          momentum_decay=1.0), 3),
    "adamw": ("adamw", {"lr": 0.02, **B, "epsilon": 0.0, "weight_decay": 0.3},
              lambda v: torch.optim.AdamW(v, lr=0.02, betas=(0.85, 0.99), eps=0.0,
                                          weight_decay=0.3), 3),
    "adamw-eps": ("adamw", {"lr": 0.02, **B, "epsilon": 1e-3, "weight_decay": 0.3},
                  lambda v: torch.optim.AdamW(v, lr=0.02, betas=(0.85, 0.99),
                                              eps=1e-3 / np.sqrt(1 - 0.99), weight_decay=0.3),
                  1),
    "adam-amsgrad": ("adam", {"lr": 0.02, **B, "epsilon": 0.0, "amsgrad": True},
                     lambda v: torch.optim.Adam(v, lr=0.02, betas=(0.85, 0.99), eps=0.0,
                                                amsgrad=True), 3),
    "rmsprop-momentum": ("rmsprop", {"lr": 0.01, "rho": 0.8, "momentum": 0.7, "epsilon": 0.0},
                         lambda v: torch.optim.RMSprop(v, lr=0.01, alpha=0.8, eps=0.0,
                                                       momentum=0.7), 3),
    "rmsprop-centered": ("rmsprop", {"lr": 0.01, "rho": 0.8, "centered": True, "epsilon": 0.0},
                         lambda v: torch.optim.RMSprop(v, lr=0.01, alpha=0.8, eps=0.0,
                                                       centered=True), 3),
    "rmsprop-both": ("rmsprop", {"lr": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True,
                                 "epsilon": 0.0},
                     lambda v: torch.optim.RMSprop(v, lr=0.01, alpha=0.8, eps=0.0, momentum=0.5,
                                                   centered=True), 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_step_matches_torch_optim(case):
    optimizer, options, make_torch, steps = CASES[case]
    run(optimizer, options, make_torch, steps)


def test_penalties_match_autograd():
    """Keras' regularizers: the gradient of mean loss + l1 |w| + l2 w^2 (autograd),
    and the reported loss includes them."""
    run("sgd", {"lr": 0.3}, lambda v: torch.optim.SGD(v, lr=0.3), 3, penalties=PENALTIES)


def test_global_clipnorm_matches_clip_grad_norm():
    norms = run("sgd", {"lr": 0.3, "global_clipnorm": 0.05},
                lambda v: torch.optim.SGD(v, lr=0.3), 3,
                clip=lambda v: keras_clip_norm(v, 0.05))
    assert min(norms) > 0.05  # the clip acted


def test_clipnorm_per_variable_matches_clip_grad_norm():
    norms = run("momentum", {"lr": 0.3, "momentum": 0.9, "clipnorm": 0.03},
                lambda v: torch.optim.SGD(v, lr=0.3, momentum=0.9), 1,
                clip=lambda v: [keras_clip_norm([p], 0.03) for p in v])
    assert max(norms[0]) > 0.03  # the clip acted on some variable


def test_clipvalue_matches_clip_grad_value():
    run("sgd", {"lr": 0.3, "clipvalue": 0.01}, lambda v: torch.optim.SGD(v, lr=0.3), 3,
        clip=lambda v: torch.nn.utils.clip_grad_value_(v, 0.01))


def test_penalties_clipping_and_decay_together():
    """Keras' order: penalties in the gradient, clip, decay, then the rule."""
    def clip_then_step(v):
        return keras_clip_norm(v, 0.1)
    run("adamw", {"lr": 0.02, **B, "epsilon": 0.0, "weight_decay": 0.2, "global_clipnorm": 0.1},
        lambda v: torch.optim.AdamW(v, lr=0.02, betas=(0.85, 0.99), eps=0.0, weight_decay=0.2),
        3, clip=clip_then_step, penalties=PENALTIES)
