"""The settings of one playground network, checked, and the presets.

``check_config`` turns the page's JSON into a complete settings dict or raises
ValueError with a message naming the field; the server answers that with 400.
"""


from annfast._validation import check_choice, check_scalar
from annfast.playground import datasets, trainer

MAX_HIDDEN_LAYERS = 6
MAX_UNITS = 8
POINTS = (250, 500, 1000, 2000)
MAX_BATCH = 100
MAX_RATE = 10.0

DEFAULTS = {
    "dataset": "circle",
    "noise": 0,
    "train_percent": 50,
    "points": 500,
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "activation": "tanh",
    "learning_rate": 0.03,
    "batch_size": 10,
    "regularization": "none",
    "reg_rate": 0.0,
    "seed": 1,
    "stop_at": 0,
}

#: Fields whose change keeps the weights and the data (applied to a running network).
LIVE_FIELDS = ("learning_rate", "batch_size", "regularization", "reg_rate", "stop_at")

# Seed 002 asks for a network of "many layers" of sigmoid units that will not learn
# whatever the step size, then for the same network with ReLU, which learns with
# polygonal boundaries.  The seed's links to the exact networks are gone, so "many"
# is the page's maximum depth: six hidden layers of eight units, on the circle.
_DEEP = {"dataset": "circle", "noise": 0, "features": ["x1", "x2"],
         "hidden": [8] * MAX_HIDDEN_LAYERS, "learning_rate": 0.03, "batch_size": 10,
         "regularization": "none", "reg_rate": 0.0, "seed": 1}
PRESETS = {
    "easy": {"title": "Easy start: circle, 2 layers of tanh",
             "config": dict(DEFAULTS, hidden=[4, 2], activation="tanh")},
    "deep-sigmoid": {"title": "Deep sigmoid (6 x 8): the vanishing signal",
                     "config": dict(DEFAULTS, **_DEEP, activation="sigmoid")},
    "deep-relu": {"title": "Deep ReLU (6 x 8): learns, polygonal boundary",
                  "config": dict(DEFAULTS, **_DEEP, activation="relu")},
}


def _number(value, name, low, high, integer=False):
    return check_scalar(value, name, low=low, high=high, integer=integer)


def check_config(update, base=None):
    """Return ``base`` (default: DEFAULTS) updated with the fields of ``update``, checked.

    Unknown fields are an error, so a typo never passes silently.
    """
    if not isinstance(update, dict):
        raise ValueError(f"the settings must be a JSON object, got {type(update).__name__}")
    unknown = sorted(set(update) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(map(str, unknown))[:200]}; expected "
                         f"some of: {', '.join(DEFAULTS)}")
    cfg = dict(DEFAULTS if base is None else base)
    cfg.update(update)
    out = {
        "dataset": check_choice(cfg["dataset"], "dataset", datasets.DATASETS),
        "noise": _number(cfg["noise"], "noise", 0, 50),
        "train_percent": _number(cfg["train_percent"], "train_percent", 10, 90),
        "points": _choice_int(cfg["points"], "points", POINTS),
        "activation": check_choice(cfg["activation"], "activation",
                                   trainer.hidden_activations()),
        "learning_rate": _number(cfg["learning_rate"], "learning_rate", 0, MAX_RATE),
        "batch_size": _number(cfg["batch_size"], "batch_size", 1, MAX_BATCH, integer=True),
        "regularization": check_choice(cfg["regularization"], "regularization",
                                  trainer.regularizations()),
        "reg_rate": _number(cfg["reg_rate"], "reg_rate", 0, MAX_RATE),
        "seed": _number(cfg["seed"], "seed", 0, 2**31 - 1, integer=True),
        "stop_at": _number(cfg["stop_at"], "stop_at", 0, 10**9, integer=True),
    }
    if out["learning_rate"] == 0:
        raise ValueError("learning_rate must be > 0, got 0")

    features = cfg["features"]
    if not isinstance(features, list) or not features:
        raise ValueError(f"features must be a non-empty list of names, got {features!r:.60}")
    if len(features) > len(datasets.FEATURES):
        raise ValueError(f"features lists {len(features)} names; there are only "
                         f"{len(datasets.FEATURES)}")
    for f in features:
        check_choice(f, "features entry", tuple(datasets.FEATURES))
    if len(set(features)) != len(features):
        raise ValueError("features must not repeat a name")
    # Keep the page's order whatever order the request used.
    out["features"] = [f for f in datasets.FEATURES if f in features]

    hidden = cfg["hidden"]
    if not isinstance(hidden, list):
        raise ValueError(f"hidden must be a list of unit counts, got {hidden!r:.60}")
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"hidden has {len(hidden)} layers; at most {MAX_HIDDEN_LAYERS} "
                         "are allowed")
    out["hidden"] = [_number(h, f"hidden[{i}]", 1, MAX_UNITS, integer=True)
                     for i, h in enumerate(hidden)]
    return out


def _choice_int(value, name, options):
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, "
                         f"got {value!r:.40}")
    return int(value)
