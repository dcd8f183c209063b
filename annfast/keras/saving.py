"""Saving and loading models: Keras 3's ``.keras`` archives (``_archive``) and
annfast's verified file format for other names (``.npz``).

An annfast file is an annfast model file (see ``annfast._io``) of kind
``keras.Sequential``: its config holds the layers, the dtype and the compile
settings; its buffer holds the weights, then, when the optimizer has state,
its state (velocities, moments, accumulators: ``state_size`` values in the
config; files from before that key hold two moments, 2 x the parameters).  Loading checks the file (format, version,
checksum; see ``annfast._io.load_model``), then cross-checks the config
against the buffer before building anything: the layer sizes must fit the
stored values, the config's dtype must be the buffer's, every value must be
finite, and the stored biases of ``use_bias=False`` layers must be zero (the
kernels use them; a non-zero one would make ``predict`` disagree with
``get_weights``).  Nothing is unpickled.
"""

import numpy as np

from annfast import _io, _params
from annfast._validation import check_bool, check_layers, check_path
from annfast.keras import initializers, regularizers
from annfast.keras import losses as losses_module
from annfast.keras import optimizers as optimizers_module
from annfast.keras.layers import Dense, InputLayer

__all__ = ["save_model", "load_model", "model_from_json"]

FILE_KIND = "keras.Sequential"


def model_config(model):
    """The JSON-able description of model stored in its file."""
    rate = model.optimizer._learning_rate if model.compiled else None
    if callable(rate) and not isinstance(rate, optimizers_module.schedules.LearningRateSchedule):
        raise ValueError("a model whose learning_rate is a plain callable cannot be saved; "
                         "use a schedule from keras.optimizers.schedules")
    config = {
        "name": model.name,
        "dtype": model.dtype,
        "input_dim": model._input_dim,
        "input_name": None if model._input is None else model._input.name,
        "layers": [_dense_config(layer) for layer in model._layers],
        "n_model_params": int(model._params.size),
        "compile": None,
    }
    if model.compiled:
        opt = model.optimizer
        config["compile"] = {
            "loss": None if model._loss is None else losses_module.serialize(model._loss),
            "metrics": list(model._metric_names),
            "weighted_metrics": [name for name, _ in model._weighted.values()],
            "optimizer": {"class_name": type(opt).__name__, "config": opt.get_config(),
                          "iterations": int(opt.iterations),
                          "has_state": opt._state is not None,
                          "state_size": 0 if opt._state is None else int(opt._state.size)},
        }
    return config


def _dense_config(layer):
    """A Dense layer as annfast's file describes it (the keys its reader takes)."""
    return {
        "class_name": "Dense", "name": layer.name, "units": layer.units,
        "activation": layer.activation, "use_bias": layer.use_bias,
        "kernel_initializer": initializers.serialize(layer.kernel_initializer),
        "bias_initializer": initializers.serialize(layer.bias_initializer),
        "kernel_regularizer": regularizers.serialize(layer.kernel_regularizer),
        "bias_regularizer": regularizers.serialize(layer.bias_regularizer),
    }


def save_model(model, filepath):
    """Write model to filepath (``Sequential.save``); the save policy of
    ``annfast._io.atomic_write`` applies."""
    filepath = check_path(filepath, "filepath")
    if filepath.endswith(".keras"):  # Keras' archive, as model.save writes it
        return model.save(filepath)
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet; there is nothing to save")
    buffer = model._params
    if model.compiled and model.optimizer._state is not None:
        # One checksummed buffer: the weights, then the optimizer state.
        buffer = np.concatenate([model._params, model.optimizer._state])
    _io.save_model(filepath, FILE_KIND, model_config(model), buffer)


def model_from_json(json_string):
    """The model (new weights, not compiled) of ``model.to_json()``: Keras' JSON of a
    Sequential or functional model, from annfast or from Keras.  Only the supported
    layers are built; custom objects and Python code are refused."""
    import json

    from annfast.keras import _config

    if not isinstance(json_string, (str, bytes)):
        raise TypeError(f"json_string must be a str, got {type(json_string).__name__}")
    try:
        description = json.loads(json_string)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"json_string is not valid JSON ({str(exc)[:120]})") from None
    return _config.from_keras(description, "json_string")


def load_model(filepath, compile=True):  # noqa: A002 (Keras' argument name)
    """Read a model written by ``save``: a Keras 3 ``.keras`` archive (written by
    annfast or by Keras; see ``annfast.keras._archive``), or annfast's own
    checksummed file for any other name (``.npz``).

    The file is verified (format, version, checksum, and the config against
    the stored buffer) and nothing is unpickled.  With ``compile=True`` the
    loss, metrics, optimizer and its state come back too, so training resumes
    where it stopped.

    Raises
    ------
    ValueError
        The file is not an intact, consistent model file (also a FIFO, a
        device or another file that is not a regular file).
    OSError
        The path is missing or unreadable (FileNotFoundError, ...).
    """
    filepath = check_path(filepath, "filepath")
    if filepath.endswith(".keras"):
        from annfast.keras import _archive

        # Before .keras meant Keras' archive, annfast wrote its own format there.
        if not _archive.is_annfast_file(filepath):
            return _archive.load(filepath, compile=check_bool(compile, "compile"))
    config, buffer = _io.load_model(filepath, FILE_KIND)
    try:
        return _from_config(config, buffer, compile)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ValueError(f"{filepath!r}: invalid model configuration: "
                         f"{str(exc)[:300]}") from None


def _from_config(config, buffer, compile):
    from annfast.keras.models import Sequential  # models imports this module

    n_model = config["n_model_params"]
    if isinstance(n_model, bool) or not isinstance(n_model, int):
        raise ValueError(f"n_model_params must be an integer, got {n_model!r:.40}")
    layer_cfgs = config["layers"]
    if not isinstance(layer_cfgs, list) or not all(isinstance(c, dict) for c in layer_cfgs):
        raise ValueError("'layers' must be a list of layer configurations")
    if np.dtype(buffer.dtype).name != config["dtype"]:
        raise ValueError(f"the config's dtype {config['dtype']!r:.40} is not the stored "
                         f"weights' dtype {np.dtype(buffer.dtype).name}")
    # The sizes the file claims must fit the stored buffer before any layer is
    # built: a hand-crafted file must not make us allocate a huge model.
    units = [cfg["units"] for cfg in layer_cfgs]
    sizes = check_layers([config["input_dim"], *units], "the model's layer sizes")
    full = _params.n_params(sizes)  # with every bias; layers without one have fewer
    if not full - sum(units) <= n_model <= min(full, buffer.size):
        raise ValueError(f"layer sizes {list(sizes)} do not fit the {buffer.size} stored values")
    layers = [InputLayer(shape=(config["input_dim"],), dtype=config["dtype"],
                         name=config["input_name"])]
    for cfg in layer_cfgs:
        if cfg.get("class_name") != "Dense":
            raise ValueError(f"unsupported layer class {cfg.get('class_name')!r:.40}")
        cfg = {k: v for k, v in cfg.items() if k != "class_name"}
        for key in ("kernel_regularizer", "bias_regularizer"):
            cfg[key] = regularizers.deserialize(cfg.get(key))
        layers.append(Dense(**cfg, dtype=config["dtype"]))
    model = Sequential(layers, name=config["name"])
    settings = config["compile"]
    n_state = 0
    if settings is not None and settings["optimizer"]["has_state"]:
        n_state = settings["optimizer"].get("state_size", 2 * n_model)
        if isinstance(n_state, bool) or not isinstance(n_state, int) or n_state < 0:
            raise ValueError(f"state_size must be a non-negative integer, got {n_state!r:.40}")
    if model._params.size != n_model or buffer.size not in (n_model, n_model + n_state):
        raise ValueError(f"{buffer.size} stored values do not fit {n_model} parameters")
    if not np.isfinite(buffer).all():
        raise ValueError("the stored weights contain NaN or infinity")
    frozen = model._frozen_bias_index()
    if frozen is not None:
        # The kernels add these biases: they must be the zeros use_bias=False means,
        # and so must their optimizer state, which training keeps at zero.
        slots = (buffer.size - n_model) // n_model if n_model else 0
        stored = [frozen + slot * n_model for slot in range(slots + 1)]
        if any(buffer[index].any() for index in stored):
            raise ValueError("a layer with use_bias=False has non-zero stored biases")
    model._params = buffer[:n_model].copy()
    if compile and settings is not None:
        opt_cfg = settings["optimizer"]
        optimizer = optimizers_module.from_config(opt_cfg["class_name"], opt_cfg["config"])
        optimizer.iterations = opt_cfg["iterations"]  # validated by the optimizer
        if opt_cfg["has_state"]:
            if buffer.size != n_model + n_state or n_state != optimizer._state_size(n_model):
                raise ValueError("the optimizer state is missing or does not fit the optimizer")
            optimizer._state = buffer[n_model:].copy()
        loss = None if settings["loss"] is None else losses_module.deserialize(settings["loss"])
        model.compile(optimizer=optimizer, loss=loss, metrics=settings["metrics"],
                      weighted_metrics=settings.get("weighted_metrics"))
    return model
