"""Keras 3's JSON configurations of models, layers and compile settings.

``to_keras`` describes a model as Keras' ``serialize_keras_object`` does
(``{"module", "class_name", "config", "registered_name"}`` dicts, Keras'
config keys), so that real Keras rebuilds it; ``from_keras`` rebuilds an
annfast model from such a description, written by annfast or by Keras.

Reading is a whitelist: only the layer classes in ``LAYERS`` (and Keras'
own initializers, regularizers, losses, metrics and optimizers that annfast
implements) are built.  Every object must come from a ``keras`` module:
a ``Lambda`` layer, a serialized Python function or a custom object is
refused before anything is built.  Nothing is imported, executed or
unpickled; a configuration is plain JSON data.
"""

import inspect

from annfast.keras import initializers, layers, losses, metrics, optimizers, regularizers, schedules

#: The layer classes a configuration may hold.  A layer added to
#: ``annfast.keras.layers`` with Keras' config keys is one line here.
LAYERS = {
    "Dense": layers.Dense,
    "Activation": layers.Activation,
    "Flatten": layers.Flatten,
    "Normalization": layers.Normalization,
    "Rescaling": layers.Rescaling,
    "ReLU": layers.ReLU,
    "LeakyReLU": layers.LeakyReLU,
    "ELU": layers.ELU,
    "Softmax": layers.Softmax,
    "Dropout": layers.Dropout,
}
MODELS = ("Sequential", "Functional")
SUPPORTED = ", ".join(["InputLayer", *LAYERS])
#: Keras' class names as its saving code spells them in the weights file.
SNAKE = {"InputLayer": "input_layer", "ReLU": "re_lu", "LeakyReLU": "leaky_re_lu",
         "ELU": "elu", "Sequential": "sequential", "Functional": "functional"}
MAX_DEPTH = 32  # a Keras configuration nests a handful of levels


def snake_name(class_name):
    """Keras' ``to_snake_case`` of a class name, for the classes above."""
    if class_name in SNAKE:
        return SNAKE[class_name]
    out = "".join("_" + c.lower() if c.isupper() else c for c in class_name)
    return out.lstrip("_")


def keras_object(module, class_name, config, registered_name=None):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": registered_name}


def dtype_policy(dtype):
    return keras_object("keras", "DTypePolicy", {"name": dtype or "float32"})


# -- checking what a file holds --------------------------------------------------------


def check_plain(value, where="config", depth=0):
    """Refuse, anywhere in a configuration, an object that is not Keras' own: a
    module outside keras, a registered custom name, a serialized function or
    lambda.  Also bounds the nesting."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: the configuration nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        module = value.get("module")
        class_name = value.get("class_name")
        if module is not None and (not isinstance(module, str) or not (
                module == "keras" or module.startswith("keras."))):
            raise ValueError(f"{where}: object {class_name!r:.60} comes from module "
                             f"{module!r:.60}, not from keras: custom objects are not "
                             "loaded (nothing from a file is imported or executed)")
        if class_name in ("__lambda__", "function", "__function__", "Lambda",
                          "TFOpLambda"):
            raise ValueError(f"{where}: a {class_name} (Python code) cannot be loaded; "
                             f"the supported layers are {SUPPORTED}")
        registered = value.get("registered_name")
        if registered is not None and registered != class_name:
            raise ValueError(f"{where}: custom object {registered!r:.60} is not supported; "
                             f"the supported layers are {SUPPORTED}")
        for key, item in value.items():
            check_plain(item, f"{where}.{key}"[:200], depth + 1)
    elif isinstance(value, (list, tuple)):  # tuples: a config from memory, not JSON
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]"[:200], depth + 1)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise ValueError(f"{where}: unexpected value of type {type(value).__name__}")


def _entry(obj, where):
    """(class_name, config) of a serialized object, checked for shape."""
    if not isinstance(obj, dict) or not isinstance(obj.get("class_name"), str):
        raise ValueError(f"{where} must be a serialized Keras object (a dict with "
                         f"'class_name' and 'config'), got {obj!r:.80}")
    config = obj.get("config", {})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"{where}['config'] must be a dict, got {config!r:.80}")
    return obj["class_name"], config


def _accepted(cls, config, where, ignore_if=(None,)):
    """The entries of config that cls's constructor takes; other keys must hold a
    neutral value (None, or what ``ignore_if`` lists), else they change what the
    object does and are refused."""
    params = inspect.signature(cls.__init__).parameters
    takes = {name for name, p in params.items() if name != "self" and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    kept = {}
    for key, value in config.items():
        if key in takes:
            kept[key] = value
        elif not any(value is v or (value == v and type(value) is type(v)) for v in ignore_if):
            raise ValueError(f"{where}: option {key}={value!r:.60} is not supported")
    return kept


def _dtype_name(value, where):
    if value is None or isinstance(value, str):
        return value
    class_name, config = _entry(value, where)
    if class_name != "DTypePolicy":
        raise ValueError(f"{where}: dtype policy {class_name!r:.40} is not supported; "
                         "float32 or float64")
    return config.get("name")


# -- layers ----------------------------------------------------------------------------


def layer_from_config(cls, config):
    """``cls.from_config(config)``: a layer from Keras' config keys."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    check_plain(config, f"{cls.__name__} config")
    config = dict(config)
    where = f"{cls.__name__} layer {config.get('name')!r:.60}"
    if config.pop("trainable", True) is not True:
        raise ValueError(f"{where}: trainable=False is not supported")
    dtype = _dtype_name(config.pop("dtype", None), f"{where} dtype")
    if cls is layers.InputLayer:
        return _input_from_config(config, dtype, where)
    if cls is layers.Dense:
        for key in ("kernel_initializer", "bias_initializer"):
            if isinstance(config.get(key), dict):
                config[key] = initializer_from_keras(config[key], f"{where} {key}")
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizer_from_keras(config[key], f"{where} {key}")
        if config.get("activation") == "linear":
            config["activation"] = None
    name = config.pop("name", None)
    shape = config.pop("batch_input_shape", None) or config.pop("batch_shape", None)
    kept = _accepted(cls, config, where, (None, False, "channels_last"))
    if shape is not None:
        if not isinstance(shape, (list, tuple)) or len(shape) < 2 or shape[0] is not None:
            raise ValueError(f"{where}: batch_shape must be [null, d1, ...], got {shape!r:.80}")
        kept["input_shape"] = tuple(shape[1:])
    return cls(**kept, name=name, dtype=dtype)


def _input_from_config(config, dtype, where):
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is None and config.get("shape") is not None:
        shape = [None, *config["shape"]]
    if not isinstance(shape, (list, tuple)) or len(shape) < 2 or shape[0] is not None:
        raise ValueError(f"{where}: batch_shape must be [null, d1, ...], got {shape!r:.80}")
    for key in ("sparse", "ragged", "optional"):
        if config.get(key):
            raise ValueError(f"{where}: {key}=True is not supported")
    return layers.InputLayer(shape=tuple(shape[1:]), dtype=dtype or config.get("dtype"),
                             name=config.get("name"))


def layer_to_keras(layer, dtype, input_shape=None):
    entry = keras_object("keras.layers", type(layer).__name__, layer.get_config())
    if "dtype" in entry["config"] and not isinstance(layer, layers.InputLayer):
        entry["config"]["dtype"] = dtype_policy(dtype)
    elif isinstance(layer, layers.InputLayer):
        entry["config"]["dtype"] = dtype
    if input_shape is not None and not isinstance(layer, layers.InputLayer):
        entry["build_config"] = {"input_shape": [None, *input_shape]}
    return entry


def layer_from_keras(entry, where):
    class_name, config = _entry(entry, where)
    if class_name == "InputLayer":
        return layer_from_config(layers.InputLayer, config)
    if class_name not in LAYERS:
        raise ValueError(f"{where}: layer class {class_name!r:.60} is not supported; the "
                         f"supported layers are {SUPPORTED}")
    return layer_from_config(LAYERS[class_name], config)


def initializer_from_keras(entry, where):
    class_name, config = _entry(entry, where)
    cls = getattr(initializers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, initializers.Initializer)):
        raise ValueError(f"{where}: initializer {class_name!r:.60} is not supported")
    return cls(**_accepted(cls, config, where))


def initializer_to_keras(init):
    obj = initializers.get(init)
    return keras_object("keras.initializers", type(obj).__name__, obj.get_config())


def regularizer_from_keras(entry, where):
    if isinstance(entry, str):
        return regularizers.get(entry, where)
    class_name, config = _entry(entry, where)
    cls = getattr(regularizers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, regularizers.Regularizer)):
        raise ValueError(f"{where}: regularizer {class_name!r:.60} is not supported")
    return cls(**_accepted(cls, config, where))


def regularizer_to_keras(reg):
    if reg is None:
        return None
    return keras_object("keras.regularizers", type(reg).__name__, reg.get_config())


# -- models ----------------------------------------------------------------------------


def _chain(model):
    """[(layer, its input sample shape)] of the layers after the input."""
    shape = model._sample_shape
    out = []
    for layer in model._stack:
        if not isinstance(layer, layers.Layer):
            raise ValueError(f"model {model.name!r} holds model {layer.name!r}: a nested model "
                             "cannot be written in Keras' format yet")
        out.append((layer, shape))
        if shape is not None:
            shape = layer._output_shape(shape)
    return out


def _input_entry(model):
    if model._sample_shape is None:
        raise ValueError(f"model {model.name!r} has no known input shape; build it first "
                         "(give an Input, or call fit/build)")
    name = model._input.name if model._input is not None else "input_layer"
    return keras_object("keras.layers", "InputLayer", {
        "batch_shape": [None, *model._sample_shape], "dtype": model.dtype, "sparse": False,
        "ragged": False, "name": name, "optional": False})


def model_config(model):
    """Keras' ``model.get_config()``: the model's name and its layers."""
    from annfast.keras.models import Model

    dtype = model.dtype
    entries = [(layer, layer_to_keras(layer, dtype, shape)) for layer, shape in _chain(model)]
    source = _input_entry(model)
    if not isinstance(model, Model):
        return {"name": model.name, "trainable": True, "dtype": dtype_policy(dtype),
                "layers": [source] + [entry for _, entry in entries],
                "build_input_shape": [None, *model._sample_shape]}
    source = {**source, "name": source["config"]["name"], "inbound_nodes": []}
    previous, shape = source["name"], model._sample_shape
    listed = [source]
    for layer, entry in entries:
        node = {"class_name": "__keras_tensor__", "config": {
            "shape": [None, *shape], "dtype": dtype, "keras_history": [previous, 0, 0]}}
        listed.append({**entry, "name": layer.name,
                       "inbound_nodes": [{"args": [node], "kwargs": {}}]})
        previous, shape = layer.name, layer._output_shape(shape)
    return {"name": model.name, "trainable": True, "layers": listed,
            "input_layers": [source["name"], 0, 0], "output_layers": [previous, 0, 0]}


def to_keras(model, include_compile=True):
    """The whole serialized model, as in a .keras archive's config.json."""
    from annfast.keras.models import Model

    config = model_config(model)
    if isinstance(model, Model):
        out = keras_object("keras.src.models.functional", "Functional", config, "Functional")
        out["build_config"] = {"input_shape": None}
    else:
        out = keras_object("keras", "Sequential", config)
        out["build_config"] = {"input_shape": [None, *model._sample_shape]}
    if include_compile and model.compiled:
        out["compile_config"] = compile_to_keras(model)
    return out


def from_keras(description, where="config"):
    """An annfast model (weights freshly drawn) from a serialized Keras model."""
    check_plain(description, where)
    class_name, config = _entry(description, where)
    if class_name not in MODELS:
        raise ValueError(f"{where}: model class {class_name!r:.60} is not supported; "
                         "Sequential and Functional models are")
    if class_name == "Sequential":
        return sequential_from_config(config, where)
    return functional_from_config(config, where)


def _layer_list(config, where):
    entries = config.get("layers")
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError(f"{where}: 'layers' must be a non-empty list")
    return entries


def sequential_from_config(config, where="config"):
    from annfast.keras.models import Sequential

    check_plain(config, where)
    built = [layer_from_keras(e, f"{where} layer {i}")
             for i, e in enumerate(_layer_list(config, where))]
    shape = config.get("build_input_shape")
    if not isinstance(built[0], layers.InputLayer) and isinstance(shape, list) and shape:
        built.insert(0, layers.InputLayer(shape=tuple(shape[1:]),
                                          dtype=_dtype_name(config.get("dtype"), where)))
    return Sequential(built, name=config.get("name"))


def functional_from_config(config, where="config"):
    """A functional Keras model whose graph is one chain, as annfast's Model."""
    from annfast.keras.models import Model

    check_plain(config, where)
    entries = _layer_list(config, where)
    not_chain = (f"{where}: the functional graph is not a chain of single-input layers "
                 "(annfast.keras models have one input, one output, no branch or merge)")
    inputs, outputs = config.get("input_layers"), config.get("output_layers")
    if inputs and isinstance(inputs[0], (list, tuple)):
        if len(inputs) != 1:
            raise ValueError(not_chain)
        inputs = inputs[0]
    if outputs and isinstance(outputs[0], (list, tuple)):
        if len(outputs) != 1:
            raise ValueError(not_chain)
        outputs = outputs[0]
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    if not isinstance(inputs, (list, tuple)) or not inputs or inputs[0] != names[0]:
        raise ValueError(not_chain)
    if not isinstance(outputs, (list, tuple)) or not outputs or outputs[0] != names[-1]:
        raise ValueError(not_chain)
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: layer names repeat")
    tensor = None
    for i, entry in enumerate(entries):
        layer = layer_from_keras(entry, f"{where} layer {names[i]!r:.60}")
        if i == 0:
            if not isinstance(layer, layers.InputLayer) or entry.get("inbound_nodes"):
                raise ValueError(f"{where}: the first layer must be the InputLayer")
            source = tensor = layer.output
            continue
        nodes = entry.get("inbound_nodes")
        if (not isinstance(nodes, (list, tuple)) or len(nodes) != 1
                or not isinstance(nodes[0], dict)):
            raise ValueError(not_chain)
        args, kwargs = nodes[0].get("args"), nodes[0].get("kwargs") or {}
        if not isinstance(args, (list, tuple)) or len(args) != 1 or not isinstance(args[0], dict):
            raise ValueError(not_chain)
        history = (args[0].get("config") or {}).get("keras_history")
        # A mask=None (Softmax) or training=None keyword changes nothing.
        if not isinstance(kwargs, dict) or any(v is not None for v in kwargs.values()):
            raise ValueError(not_chain)
        if not isinstance(history, (list, tuple)) or list(history[:1]) != [names[i - 1]]:
            raise ValueError(not_chain)
        tensor = layer(tensor)
    return Model(inputs=source, outputs=tensor, name=config.get("name"))


# -- compile settings ------------------------------------------------------------------

#: Keras' optimizer options that annfast does not have, at their neutral values.
_OPTIMIZER_NEUTRAL = (None, False, 0.99)


def optimizer_to_keras(opt):
    rate = opt._learning_rate
    if callable(rate) and not isinstance(rate, schedules.LearningRateSchedule):
        raise ValueError("a model whose learning_rate is a plain callable cannot be saved; "
                         "use a schedule from keras.optimizers.schedules")
    config = dict(opt.get_config())
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        config["learning_rate"] = keras_object("keras.optimizers.schedules", rate["class_name"],
                                               rate["config"])
    config.update({"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                   "loss_scale_factor": None, "gradient_accumulation_steps": None})
    return keras_object("keras.optimizers", type(opt).__name__, config)


def optimizer_from_keras(entry, where):
    if isinstance(entry, str):
        return optimizers.get(entry)
    class_name, config = _entry(entry, where)
    classes = {cls.__name__: cls for cls in optimizers._CLASSES}
    if class_name not in classes:
        raise ValueError(f"{where}: optimizer {class_name!r:.60} is not supported; the "
                         f"supported optimizers are {', '.join(classes)}")
    cls = classes[class_name]
    config = dict(config)
    if config.get("use_ema"):
        raise ValueError(f"{where}: use_ema=True is not supported")
    config.pop("ema_momentum", None)
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        rate_name, rate_config = _entry(rate, f"{where} learning_rate")
        config["learning_rate"] = schedules.deserialize(
            {"class_name": rate_name, "config": rate_config})
    return cls(**_accepted(cls, config, where, _OPTIMIZER_NEUTRAL))


def loss_to_keras(model):
    given = model.loss
    if isinstance(given, str):
        return given
    obj = model._loss
    config = {**obj.get_config(), "reduction": "sum_over_batch_size"}
    return keras_object("keras.losses", type(obj).__name__, config)


def loss_from_keras(entry, where):
    if isinstance(entry, str):
        return losses.get(entry)
    class_name, config = _entry(entry, where)
    classes = {cls.__name__: cls for cls in losses._CLASSES}
    if class_name not in classes:
        raise ValueError(f"{where}: loss {class_name!r:.60} is not supported; the supported "
                         f"losses are {', '.join(classes)}")
    cls = classes[class_name]
    config = {k: v for k, v in config.items()
              if not (k == "reduction" and v == "sum_over_batch_size")}
    return cls(**_accepted(cls, config, where, (None, "float32", "float64", -1)))


def _metric_to_keras(name, obj):
    if obj is None:
        return name
    return keras_object("keras.metrics", type(obj).__name__, obj.get_config())


def _metric_from_keras(entry, where):
    if isinstance(entry, str):
        return entry
    class_name, config = _entry(entry, where)
    cls = getattr(metrics, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, metrics.Metric)):
        raise ValueError(f"{where}: metric {class_name!r:.60} is not supported")
    return cls(**_accepted(cls, config, where, (None, "float32", "float64")))


def compile_to_keras(model):
    listed = [_metric_to_keras(n, model._metric_objects.get(n)) for n in model._metric_names]
    return {
        "optimizer": optimizer_to_keras(model.optimizer),
        "loss": None if model._loss is None else loss_to_keras(model),
        "loss_weights": None,
        "metrics": listed or None,
        "weighted_metrics": [_metric_to_keras(name, obj)
                             for name, obj in model._weighted.values()] or None,
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }


def compile_from_keras(model, config, where="compile_config"):
    """``model.compile(...)`` with the settings of a Keras compile_config."""
    if not isinstance(config, dict):
        raise ValueError(f"{where} must be a dict")
    if not config:
        return
    check_plain(config, where)
    for key in ("loss_weights",):
        if config.get(key) is not None:
            raise ValueError(f"{where}: {key} is not supported")
    optimizer = optimizer_from_keras(config.get("optimizer", "rmsprop"), f"{where} optimizer")
    loss = config.get("loss")
    loss = None if loss is None else loss_from_keras(loss, f"{where} loss")
    listed = config.get("metrics") or []
    weighted = config.get("weighted_metrics") or []
    if not isinstance(listed, list) or not isinstance(weighted, list):
        raise ValueError(f"{where}: metrics must be lists")
    kwargs = {}
    if weighted:
        kwargs["weighted_metrics"] = [_metric_from_keras(m, f"{where} weighted_metrics")
                                      for m in weighted]
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[_metric_from_keras(m, f"{where} metrics") for m in listed] or None,
                  **kwargs)
