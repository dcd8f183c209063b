"""The playground's 2-D data sets and input features, generated in NumPy from a seed.

Points lie in the square [-6, 6]^2, as on TensorFlow Playground.  Classification
labels are 0/1 (the network ends in a sigmoid trained with binary cross-entropy,
annfast's natural pairing; TF Playground uses -1/+1 with tanh).  Regression
targets lie in [-1, 1] (identity output, squared error).

``noise`` is a percentage in [0, 50], as TF Playground's slider: it jitters the
points (classification) or the targets (regression).
"""

import numpy as np

#: Half-width of the square the points and the heat maps cover.
DOMAIN = 6.0

CLASSIFICATION = ("circle", "xor", "gaussian", "spiral")
REGRESSION = ("reg-plane", "reg-gaussian")
DATASETS = CLASSIFICATION + REGRESSION

#: Input feature name -> function of (x1, x2), in the page's order.
FEATURES = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin(x1)": lambda a, b: np.sin(a),
    "sin(x2)": lambda a, b: np.sin(b),
}


def is_regression(name):
    return name in REGRESSION


def _circle(n, noise, rng):
    # Half the points in a disc of radius 2.5 (label 1), half in a ring from 3.5
    # to 5 (label 0); the label follows the noiseless position.
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0, 0.5 * radius, inner),
                        rng.uniform(0.7 * radius, radius, n - inner)])
    angle = rng.uniform(0, 2 * np.pi, n)
    pts = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    y = (r < 0.6 * radius).astype(float)
    return pts + rng.uniform(-radius, radius, (n, 2)) * noise, y


def _xor(n, noise, rng):
    # Uniform in the square, kept a little off the axes; label 1 where x1*x2 > 0.
    pts = rng.uniform(-5, 5, (n, 2))
    pts += np.where(pts > 0, 0.3, -0.3)
    y = (pts[:, 0] * pts[:, 1] > 0).astype(float)
    return pts + rng.uniform(-5, 5, (n, 2)) * noise, y


def _gaussian(n, noise, rng):
    # Two round clusters at (2, 2) (label 1) and (-2, -2) (label 0); more noise
    # widens them until they overlap.
    spread = 0.5 + 3.5 * noise
    y = (np.arange(n) < n // 2).astype(float)
    centre = np.where(y[:, None] > 0, 2.0, -2.0)
    return centre + rng.normal(0, spread, (n, 2)), y


def _spiral(n, noise, rng):
    # Two interleaved arms of an Archimedean spiral, half a turn apart.
    half = n // 2
    t = np.concatenate([np.linspace(0, 1, half, endpoint=False),
                        np.linspace(0, 1, n - half, endpoint=False)])
    y = (np.arange(n) < half).astype(float)
    angle = 1.75 * 2 * np.pi * t + np.where(y > 0, 0.0, np.pi)
    r = 5.0 * t
    pts = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    return pts + rng.uniform(-1, 1, (n, 2)) * 5.0 * noise, y


def _plane(n, noise, rng):
    # A tilted plane: target (x1 + x2) / 12, within [-1, 1].
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    y = (pts[:, 0] + pts[:, 1]) / (2 * DOMAIN)
    return pts, np.clip(y + rng.uniform(-1, 1, n) * noise, -1, 1)


#: Centres and signs of the bumps of the multi-Gaussian regression surface.
_BUMPS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def bumps(pts):
    """The multi-Gaussian surface: six bumps of height +-1 on a 3 x 2 grid."""
    out = np.zeros(len(pts))
    for cx, cy, sign in _BUMPS:
        d2 = (pts[:, 0] - cx) ** 2 + (pts[:, 1] - cy) ** 2
        out += sign * np.exp(-d2 / 2.0)
    return np.clip(out, -1, 1)


def _multi_gaussian(n, noise, rng):
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    return pts, np.clip(bumps(pts) + rng.uniform(-1, 1, n) * noise, -1, 1)


_GENERATORS = {
    "circle": _circle, "xor": _xor, "gaussian": _gaussian, "spiral": _spiral,
    "reg-plane": _plane, "reg-gaussian": _multi_gaussian,
}


def generate(name, n_points=500, noise=0.0, seed=0):
    """Return (points (n, 2), targets (n,)) for data set ``name``, shuffled.

    ``noise`` in percent (0..50).  The same arguments give the same arrays.
    """
    if name not in _GENERATORS:
        raise ValueError(f"dataset={name!r} is not known; expected one of: {', '.join(DATASETS)}")
    rng = np.random.default_rng(seed)
    pts, y = _GENERATORS[name](int(n_points), float(noise) / 100.0, rng)
    # Shuffle so that any train/test split mixes both classes.
    perm = rng.permutation(len(y))
    return np.ascontiguousarray(pts[perm]), np.ascontiguousarray(y[perm])


def split(n, train_percent):
    """Number of training points: the first ones of a shuffled set."""
    return max(1, min(n - 1, int(round(n * train_percent / 100.0))))


def features(points, names):
    """The (n, len(names)) input matrix of the chosen features of ``points``."""
    a, b = points[:, 0], points[:, 1]
    return np.ascontiguousarray(np.column_stack([FEATURES[f](a, b) for f in names]),
                                dtype=np.float64)


def grid(n):
    """Centres of an n x n grid over the domain, row-major from the top (x2 = +6) down."""
    c = (np.arange(n) + 0.5) / n * 2 * DOMAIN - DOMAIN
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])
