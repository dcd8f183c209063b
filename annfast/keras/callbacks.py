"""Callbacks for ``fit``, with Keras 3's hooks, arguments and decisions.

The rules (what counts as an improvement, when patience runs out, how the
rate is cut) follow keras/src/callbacks/*.py.  ``fit`` calls the batch hooks
only when some callback overrides one: then each kernel call trains exactly
one batch.  Without batch hooks an epoch stays one chunked engine call.

Batch logs hold ``loss`` only, the running mean of the epoch so far (the
kernel returns no per-batch outputs to compute metrics from).
"""

import csv
import math
import os
import warnings

import numpy as np

from annfast._validation import check_bool, check_choice, check_path, check_scalar

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "LambdaCallback",
           "TerminateOnNaN"]

BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
PREDICT_BATCH_HOOKS = ("on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: override the hooks you need.  ``self.model`` is the model
    being trained, ``self.params`` ``{'verbose', 'epochs', 'steps'}``; setting
    ``self.model.stop_training = True`` ends training after the current batch
    (in a batch hook) or epoch."""

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


def _overrides(callback, hooks):
    """Whether ``callback`` replaces any of ``hooks`` (as an attribute or a method)."""
    for hook in hooks:
        if hook in vars(callback):  # LambdaCallback sets hooks on the instance
            return True
        method = getattr(type(callback), hook, None)
        if method is not None and method is not getattr(Callback, hook):
            return True
    return False


class CallbackList:
    """The callbacks of one ``fit``/``evaluate``/``predict`` call, called in order."""

    def __init__(self, callbacks, model, params, history=None):
        if callbacks is None:
            callbacks = []
        if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of keras.callbacks.Callback instances, "
                            f"got {type(callbacks).__name__}")
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{i}] must be a keras.callbacks.Callback instance, "
                                f"got {type(cb).__name__}")
        self.callbacks = list(callbacks)
        if history is not None:
            self.callbacks.append(history)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(dict(params))

    def needs(self, hooks):
        return any(_overrides(cb, hooks) and not getattr(cb, "_engine_serves_batches", False)
                   for cb in self.callbacks)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class History(Callback):
    """Per-epoch record of a ``fit`` call (what ``fit`` returns).

    Attributes
    ----------
    history : dict of str -> list of float
        ``loss``, then each metric, then ``val_loss`` and ``val_<metric>`` when
        there is validation data; one value per epoch.
    epoch : list of int
        The (0-based) indices of the epochs run.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class _Monitor(Callback):
    """Keras' MonitorCallback: the direction of the monitored quantity and
    what counts as an improvement (``current - min_delta`` beats the best)."""

    def __init__(self, monitor, mode, baseline=None, min_delta=0):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.mode = check_choice(mode, "mode", ("auto", "min", "max"))
        self.best = baseline
        self.min_delta = abs(check_scalar(min_delta, "min_delta"))
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            direction = None
            if name == "loss":
                direction = "down"
            elif self.model is not None:
                direction = self.model._metric_direction(name)
            if direction is None:
                raise ValueError(f"{type(self).__name__} callback received monitor="
                                 f"{self.monitor}, but cannot tell whether it should be "
                                 "maximized or minimized; pass mode='max' or mode='min'")
            self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))


class EarlyStopping(_Monitor):
    """Stop training when the monitored quantity stops improving.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    min_delta : float, default 0
    patience : int, default 0
        Epochs without improvement after which training stops.
    verbose : int, default 0
    mode : {'auto', 'min', 'max'}, default 'auto'
    baseline : float, optional
        The patience counter restarts only on values that also beat it.
    restore_best_weights : bool, default False
        At the end, put back the weights of the best epoch.
    start_from_epoch : int, default 0
        Epochs to wait before monitoring.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = check_scalar(patience, "patience", low=0, integer=True)
        self.verbose = verbose
        self.baseline = None if baseline is None else check_scalar(baseline, "baseline")
        self.restore_best_weights = check_bool(restore_best_weights, "restore_best_weights")
        self.start_from_epoch = check_scalar(start_from_epoch, "start_from_epoch", low=0,
                                             integer=True)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = _monitored(self, logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _monitored(callback, logs, what):
    logs = logs or {}
    value = logs.get(callback.monitor)
    if value is None:
        warnings.warn(f"{what} conditioned on metric `{callback.monitor}` which is not "
                      f"available. Available metrics are: {','.join(logs)}", stacklevel=3)
    return value


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when the monitored quantity has not
    improved for ``patience`` epochs; the new rate applies from the next epoch.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    factor : float < 1, default 0.1
    patience : int, default 10
    verbose : int, default 0
    mode : {'auto', 'min', 'max'}, default 'auto'
    min_delta : float, default 1e-4
    cooldown : int, default 0
        Epochs to wait after a cut before counting again.
    min_lr : float, default 0
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        factor = check_scalar(factor, "factor", low=0)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.min_lr = check_scalar(min_lr, "min_lr", low=0)
        self.patience = check_scalar(patience, "patience", low=0, integer=True)
        self.verbose = verbose
        self.cooldown = check_scalar(cooldown, "cooldown", low=0, integer=True)
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = _monitored(self, logs, "Learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``
    (or ``schedule(epoch)``); the rate is logged as ``learning_rate``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function (epoch, lr) -> lr, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # Keras' old one-argument form
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. "
                             f"Got: {lr}")
        optimizer.learning_rate = check_scalar(float(lr), "the scheduled learning rate", low=0)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ModelCheckpoint(_Monitor):
    """Save the model (``model.save``) or its weights (``model.save_weights``)
    after each epoch, or only when the monitored quantity improves.

    Parameters
    ----------
    filepath : str or path
        May hold ``{epoch}`` (counted from 1) and log keys such as
        ``{val_loss:.2f}``.
    monitor : str, default 'val_loss'
    verbose : int, default 0
    save_best_only : bool, default False
    save_weights_only : bool, default False
    mode : {'auto', 'min', 'max'}, default 'auto'
    save_freq : 'epoch'
        Only 'epoch' is supported.
    initial_value_threshold : float, optional
        The value to beat for the first save with save_best_only.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(check_path(filepath, "filepath"))
        self.verbose = verbose
        self.save_best_only = check_bool(save_best_only, "save_best_only")
        self.save_weights_only = check_bool(save_weights_only, "save_weights_only")
        if save_freq != "epoch":
            raise ValueError(f"save_freq={save_freq!r} is not supported; only 'epoch' is")
        self.save_freq = save_freq

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {exc}") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available.",
                              stacklevel=2)
            elif self._is_improvement(current, self.best):
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {path}")
                self.best = current
            else:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (columns sorted, 'epoch' first)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(check_path(filename, "filename"))
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character, got {separator!r}")
        self.sep = separator
        self.append = check_bool(append, "append")
        self.keys = None
        self.csv_file = None
        self.writer = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not bool(len(f.readline()))
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        # Open for the whole fit (closed in on_train_end), as Keras.
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="",  # noqa: SIM115
                             encoding="utf-8")
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, logs.get(k, "NA")) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
              "on_train_batch_begin", "on_train_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                     "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                     "on_train_batch_begin": on_train_batch_begin,
                     "on_train_batch_end": on_train_batch_end}
        for hook, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"{hook} must be a function, got {fn!r}")
                setattr(self, hook, fn)


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite.

    The kernels already check every batch's loss and end the epoch at the
    first non-finite one, so this needs no Python per batch; with
    ``raise_error=True`` that event raises RuntimeError instead of a warning.
    """

    _engine_serves_batches = True

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = check_bool(raise_error, "raise_error")

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


_KERAS_CALLBACKS = {"BackupAndRestore", "ProgbarLogger", "RemoteMonitor", "TensorBoard",
                    "SwapEMAWeights", "OrbaxCheckpoint"}


def __getattr__(name):
    # A clear message instead of a bare AttributeError for Keras callbacks we do not have.
    if name in _KERAS_CALLBACKS:
        raise AttributeError(f"annfast.keras.callbacks has no {name}; the supported callbacks "
                             f"are: {', '.join(__all__)}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
