"""Keras 3's ``.keras`` archive and ``.weights.h5`` file.

A ``.keras`` file is a zip holding ``metadata.json`` (the Keras version and the
date), ``config.json`` (the serialized model, see ``annfast.keras._config``)
and ``model.weights.h5``.  In the HDF5 file each layer of the model's
``layers`` list has a group ``layers/<name>/vars`` whose datasets ``0``, ``1``,
... are its variables in order (a Dense layer: kernel (n_in, units), then
bias), where <name> is the snake_case class name made unique by a counter
(``dense``, ``dense_1``, ...; Keras' ``_save_container_state``), not the layer's
own name.  A Normalization layer holds mean, variance and count.  The
``.weights.h5`` file of ``save_weights`` is that HDF5 file on its own.

Reading trusts nothing in the file: the zip's member names and declared
sizes are checked before anything is read (no path outside the archive, no
member larger than its cap, reads stop at the declared size), the config
must describe a supported model (``_config``), the number of weights it
implies must fit the HDF5 file's size, and every dataset must be a plain
float array stored in the file (no external storage or links) with exactly
the shape the model expects, before it is read.  Nothing is unpickled,
imported or executed.  h5py is needed (``pip install 'annfast[keras]'``).
"""

import datetime
import io
import json
import os
import zipfile

import numpy as np

from annfast import _io
from annfast.keras import _config, layers

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
#: The Keras version whose format this writes (what metadata.json says).
KERAS_VERSION = "3.15.1"
MAX_JSON_BYTES = 8 << 20
MAX_WEIGHTS_BYTES = 8 << 30
MAX_MEMBERS = 256
#: No model annfast trains has more weights than this (8 GiB of float32).
MAX_WEIGHTS = 1 << 31


def h5py():
    """The h5py module, or an ImportError naming the extra to install."""
    try:
        import h5py as module
    except ImportError:
        raise ImportError("reading and writing Keras .keras and .weights.h5 files needs h5py: "
                          "pip install 'annfast[keras]'") from None
    return module


# -- the variables of each layer -------------------------------------------------------


def _layer_variables(model, layer):
    """The arrays Keras stores for layer, in its order."""
    if isinstance(layer, layers.Dense):
        return model._layer_weights(layer._index)
    if isinstance(layer, layers.Normalization) and layer.input_mean is None:
        if layer._adapted is None:
            raise ValueError(f"Normalization layer {layer.name!r} has no mean and variance "
                             "yet: adapt() it (or give mean= and variance=) before saving")
        _, _, _, mean, variance = layer._adapted
        return [mean.astype(model.dtype), variance.astype(model.dtype),
                np.array(0, dtype="int64")]
    return []


def _slots(model):
    """[(group path, layer)] in the order of Keras' ``model.layers``."""
    from annfast.keras.models import Model

    listed = list(model._stack)
    if isinstance(model, Model):
        listed.insert(0, model._input)
    used = {}
    out = []
    for layer in listed:
        if isinstance(layer, layers.InputLayer):
            base = "input_layer"
        else:
            base = _config.snake_name(type(layer).__name__)
        count = used.get(base, 0)
        used[base] = count + 1
        out.append((f"layers/{base}" + (f"_{count}" if count else ""), layer))
    return out


def _optimizer_layout(opt):
    """How annfast's state slots (n values each, see ``_kernels.opt_state_size``)
    map onto Keras' optimizer variables: groups of slots, each group interleaved
    per model variable (kernel, bias, ...), in Keras' order; and whether a last
    scalar follows (Nadam's momentum-schedule product)."""
    name = type(opt).__name__
    if name == "SGD":
        return ([[0]] if opt.momentum > 0 else []), False
    if name == "RMSprop":
        groups, k = [[0]], 1
        if opt.momentum > 0:
            groups, k = groups + [[k]], k + 1
        if opt.centered:
            groups.append([k])
        return groups, False
    if name in ("Adam", "AdamW"):
        return [[0, 1]] + ([[2]] if opt.amsgrad else []), False
    if name == "Adagrad":
        return [[0]], False
    if name in ("Adadelta", "Adamax"):
        return [[0, 1]], False
    if name == "Nadam":
        return [[0, 1]], True
    raise ValueError(f"no Keras layout for optimizer {name}")


def _optimizer_variables(model, opt):
    """Keras' optimizer variables, in order, from annfast's optimizer."""
    from annfast.keras import schedules

    out = [np.array(opt.iterations, dtype="int64")]
    if not isinstance(opt._learning_rate, schedules.LearningRateSchedule):
        out.append(np.array(opt.learning_rate, dtype="float32"))
    groups, scalar = _optimizer_layout(opt)
    state = opt._state
    n = model._params.size
    if state is None:
        state = np.zeros(opt._state_size(n), dtype=model.dtype)
    slot = [_as_keras(model, state[k * n:(k + 1) * n]) for k in range(state.size // n)]
    if type(opt).__name__ == "Adagrad":  # annfast keeps the accumulator less its start
        slot = [[a + opt.initial_accumulator_value for a in arrays] for arrays in slot]
    for group in groups:
        for v in range(len(slot[0]) if slot else 0):
            out += [slot[k][v] for k in group]
    if scalar:
        out.append(np.array(state[2 * n] if opt.iterations > 0 else 1.0, dtype=model.dtype))
    return out


def _as_keras(model, flat):
    """A flat buffer in annfast's layout as Keras' variables (kernel, bias, ...)."""
    saved = model._params
    try:
        model._params = flat
        return model.get_weights()
    finally:
        model._params = saved


def write_weights(model, fileobj, include_optimizer=False):
    """Write model's weights in Keras' HDF5 layout to fileobj (and the optimizer's
    variables, for a .keras archive of a compiled model)."""
    module = h5py()
    with module.File(fileobj, "w") as f:
        for path, layer in _slots(model):
            group = f.create_group(f"{path}/vars")
            group.attrs["name"] = layer.name
            for i, value in enumerate(_layer_variables(model, layer)):
                group.create_dataset(str(i), data=value)
        if include_optimizer and model.compiled:
            group = f.create_group("optimizer/vars")
            group.attrs["name"] = model.optimizer.name
            for i, value in enumerate(_optimizer_variables(model, model.optimizer)):
                group.create_dataset(str(i), data=value)
        f.create_group("vars").attrs["name"] = model.name


def read_optimizer(model, opt, data, where):
    """Set opt's step count and state from the optimizer variables of a .keras
    archive, when they are there and fit; else opt starts fresh (as Keras, which
    skips variables that do not fit, with a warning)."""
    import warnings

    from annfast.keras import schedules

    module = h5py()
    n = model._params.size
    expected = _optimizer_variables(model, opt)  # shapes and count, from a fresh state
    try:
        with module.File(data, "r") as f:
            if "optimizer" not in f:
                return
            group = _group(f, "optimizer/vars", where)
            if len(group.keys()) != len(expected):
                warnings.warn(f"{where}: the optimizer variables do not fit "
                              f"{type(opt).__name__}; it starts fresh", stacklevel=3)
                return
            values = [_dataset(group, str(i), e.shape, f"{where} optimizer")
                      for i, e in enumerate(expected)]
    except (OSError, KeyError, RuntimeError, TypeError, OverflowError, IndexError,
            AttributeError) as exc:  # whatever h5py raises for a damaged file
        raise ValueError(f"{where}: not a readable Keras weights file ({str(exc)[:200]})"
                         ) from None
    iterations = values.pop(0)
    if not float(iterations).is_integer() or iterations < 0:
        raise ValueError(f"{where}: the optimizer's iteration count is {iterations}")
    if not isinstance(opt._learning_rate, schedules.LearningRateSchedule):
        values.pop(0)  # the rate itself is in the compile config
    groups, scalar = _optimizer_layout(opt)
    state = np.zeros(opt._state_size(n), dtype=np.float64)
    shapes = [s for i in range(len(model._layers)) for s in model._expected_shapes(i)]
    n_vars = len(shapes)
    slots = {}
    pos = 0
    for group in groups:
        for v in range(n_vars):
            for k in group:
                slots.setdefault(k, []).append(values[pos])
                pos += 1
    for k, arrays in slots.items():
        flat = model._params.copy()
        model._set_into_all(flat, arrays)
        state[k * n:(k + 1) * n] = flat
    if type(opt).__name__ == "Adagrad":
        state -= opt.initial_accumulator_value
        if model._frozen_bias_index() is not None:
            state[model._frozen_bias_index()] = 0
    if scalar:
        state[2 * n] = values[pos]
    opt.iterations = int(iterations)
    opt._state = state.astype(model.dtype)


def _dataset(group, key, shape, where):
    """Read group[key] after checking it is a plain dataset of that shape."""
    module = h5py()
    link = group.get(key, getlink=True)
    if not isinstance(link, module.HardLink):
        raise ValueError(f"{where}: variable {key} is missing (or is a link)")
    ds = group[key]
    if not isinstance(ds, module.Dataset):
        raise ValueError(f"{where}: variable {key} is not a dataset")
    if ds.shape != tuple(shape):
        raise ValueError(f"{where}: variable {key} has shape {ds.shape}, but the model needs "
                         f"{tuple(shape)}")
    if ds.dtype.kind not in "fiu" or ds.dtype.itemsize > 8:
        raise ValueError(f"{where}: variable {key} has dtype {ds.dtype}, not a number type")
    if ds.external or ds.is_virtual:
        raise ValueError(f"{where}: variable {key} is stored outside the file")
    value = np.asarray(ds[()], dtype=np.float64)
    if not np.isfinite(value).all():
        raise ValueError(f"{where}: variable {key} holds NaN or infinity")
    return value


def _group(f, path, where):
    module = h5py()
    node = f
    for part in path.split("/"):
        link = node.get(part, getlink=True)
        if not isinstance(link, module.HardLink) or not isinstance(node[part], module.Group):
            raise ValueError(f"{where}: group {path!r} is missing from the weights file")
        node = node[part]
    return node


def read_weights(model, fileobj, size, where):
    """Set model's weights from Keras' HDF5 layout; nothing changes on error."""
    module = h5py()
    n_weights = model.count_params() if model.built else 0
    if n_weights > MAX_WEIGHTS or 2 * n_weights > size:
        # float16 is the smallest Keras stores: a file smaller than that lies.
        raise ValueError(f"{where}: the model has {n_weights} weights, more than a weights "
                         f"file of {size} bytes can hold")
    try:
        with module.File(fileobj, "r") as f:
            arrays, norms = [], []
            for path, layer in _slots(model):
                if isinstance(layer, layers.Dense):
                    group = _group(f, f"{path}/vars", where)
                    shapes = model._expected_shapes(layer._index)
                    arrays += [_dataset(group, str(i), s, f"{where} {path}")
                               for i, s in enumerate(shapes)]
                elif isinstance(layer, layers.Normalization) and layer.input_mean is None:
                    group = _group(f, f"{path}/vars", where)
                    norms.append((layer, group, f"{where} {path}"))
            stats = [(layer, *_norm_stats(layer, group, model, w)) for layer, group, w in norms]
    except (OSError, KeyError, RuntimeError, TypeError, OverflowError, IndexError,
            AttributeError) as exc:  # whatever h5py raises for a damaged file
        raise ValueError(f"{where}: not a readable Keras weights file ({str(exc)[:200]})"
                         ) from None
    model.set_weights([a.astype(model.dtype) for a in arrays])
    for layer, mean, variance in stats:
        layer.input_mean, layer.input_variance = mean, variance
        layer.mean, layer.variance = layer._statistics((1, *_input_shape(model, layer)))


def _input_shape(model, layer):
    shape = model._sample_shape
    for other in model._pre:
        if other is layer:
            return shape
        shape = other._output_shape(shape)
    raise ValueError(f"layer {layer.name!r} is not one of the model's input layers")


def _norm_stats(layer, group, model, where):
    shape = _input_shape(model, layer)
    ndim = len(shape) + 1
    keep = layer._keep(ndim)
    kept = tuple((1, *shape)[d] for d in keep)
    mean = _dataset(group, "0", kept, where)
    variance = _dataset(group, "1", kept, where)
    if (variance < 0).any():
        raise ValueError(f"{where}: a negative variance")
    # Stored over the kept axes: the layer's own mean/variance of that shape.
    return mean, variance


# -- the .keras archive ----------------------------------------------------------------


def save(model, filepath):
    """Write model as a Keras 3 ``.keras`` archive (atomically)."""
    config = _config.to_keras(model)  # what cannot be saved is refused first
    h5py()
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": "annfast"}
    weights = io.BytesIO()
    write_weights(model, weights, include_optimizer=True)

    def write(f):
        with zipfile.ZipFile(f, "w") as zf:
            zf.writestr(METADATA, json.dumps(metadata))
            zf.writestr(CONFIG, json.dumps(config))
            zf.writestr(WEIGHTS, weights.getvalue())

    _io.atomic_write(filepath, write)


def _check_members(zf, where):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{where}: the archive lists {len(infos)} members")
    found = {}
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0] or "\0" in name:
            raise ValueError(f"{where}: member name {name!r:.80} points outside the archive")
        if name in found:
            raise ValueError(f"{where}: member {name!r:.80} is listed twice")
        found[name] = info
    for name in (CONFIG, WEIGHTS):
        if name not in found:
            raise ValueError(f"{where}: not a Keras .keras archive (no {name})")
    return found


def _read(zf, info, cap, where):
    """The member's bytes, refusing declared sizes over cap and reading no more
    than declared (zipfile checks the CRC and the length at the end)."""
    if info.file_size > cap:
        raise ValueError(f"{where}: member {info.filename!r} declares {info.file_size} "
                         f"bytes, more than the {cap} allowed")
    if info.flag_bits & 0x1:
        raise ValueError(f"{where}: member {info.filename!r} is encrypted")
    with zf.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ValueError(f"{where}: member {info.filename!r} does not hold its declared size")
    return data


def _json(data, name, where):
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: {name} is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {name} must hold a JSON object")
    return value


def _check_size(config, size, where):
    """Refuse, before any layer is built, a config whose Dense layers need more
    weights than ``size`` bytes of HDF5 can hold (a hand-made config must not make
    us allocate a huge model)."""
    try:
        entries = config["config"]["layers"]
        features, total = None, 0
        for entry in entries:
            cfg = entry["config"]
            if entry["class_name"] == "InputLayer":
                shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
                dims = shape[1:]
                if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                           for d in dims):
                    raise ValueError(f"{where}: input shape {shape!r:.80} is not valid")
                features = 1
                for d in dims:
                    features = min(features * d, MAX_WEIGHTS + 1)
            elif entry["class_name"] == "Dense":
                units = cfg["units"]
                if isinstance(units, bool) or not isinstance(units, int) or units < 1:
                    raise ValueError(f"{where}: Dense units={units!r:.40} is not valid")
                total += (features or 1) * units + units
                features = units
            if total > MAX_WEIGHTS or 2 * total > size:
                raise ValueError(f"{where}: the layers need {total} weights or more, more than "
                                 f"a weights file of {size} bytes can hold")
    except (KeyError, TypeError, IndexError, AttributeError):
        raise ValueError(f"{where}: not a Keras model configuration") from None


def is_annfast_file(filepath):
    """Whether filepath holds annfast's own model format (a zip of meta and params)."""
    fileobj, _ = _io.open_regular(os.fspath(filepath))
    with fileobj:
        try:
            with zipfile.ZipFile(fileobj) as zf:
                return sorted(zf.namelist()) == ["meta.npy", "params.npy"]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
                NotImplementedError):
            return False  # load() says what is wrong with it


def load(filepath, compile=True):  # noqa: A002 (Keras' argument name)
    """Read a ``.keras`` archive written by Keras 3 or by annfast."""
    h5py()
    where = repr(os.fspath(filepath))[:200]
    fileobj, size = _io.open_regular(os.fspath(filepath))
    with fileobj:
        try:
            with zipfile.ZipFile(fileobj) as zf:
                members = _check_members(zf, where)
                config = _json(_read(zf, members[CONFIG], MAX_JSON_BYTES, where), CONFIG, where)
                weights = _read(zf, members[WEIGHTS], min(MAX_WEIGHTS_BYTES, 64 * size + 4096),
                                where)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError,
                OSError) as exc:
            raise ValueError(f"{where}: not an intact .keras archive ({str(exc)[:200]})"
                             ) from None
    _check_size(config, len(weights), f"{where} config.json")
    try:
        model = _config.from_keras(config, f"{where} config.json")
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"{where}: invalid model configuration ({str(exc)[:200]})") from None
    if not model.built:
        raise ValueError(f"{where}: the configuration gives no input shape")
    read_weights(model, io.BytesIO(weights), len(weights), f"{where} {WEIGHTS}")
    if compile and config.get("compile_config"):
        try:
            _config.compile_from_keras(model, config["compile_config"],
                                       f"{where} compile_config")
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"{where}: invalid compile_config ({str(exc)[:200]})") from None
        read_optimizer(model, model.optimizer, io.BytesIO(weights), f"{where} {WEIGHTS}")
    return model


# -- .weights.h5 -----------------------------------------------------------------------


def save_weights(model, filepath):
    h5py()
    buffer = io.BytesIO()
    write_weights(model, buffer)
    _io.atomic_write(filepath, lambda f: f.write(buffer.getvalue()))


def load_weights(model, filepath):
    h5py()
    where = repr(os.fspath(filepath))[:200]
    fileobj, size = _io.open_regular(os.fspath(filepath))
    with fileobj:
        if size > MAX_WEIGHTS_BYTES:
            raise ValueError(f"{where}: {size} bytes is more than a weights file may hold")
        data = fileobj.read(size + 1)
    read_weights(model, io.BytesIO(data), len(data), where)
