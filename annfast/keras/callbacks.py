"""``History``: what ``fit`` returns, as in Keras."""

__all__ = ["History"]


class History:
    """Per-epoch record of a ``fit`` call.

    Attributes
    ----------
    history : dict of str -> list of float
        ``loss``, then each metric under the name given to ``compile``, then
        ``val_loss`` and ``val_<metric>`` when there is validation data; one
        value per epoch.
    epoch : list of int
        The (0-based) indices of the epochs run.
    params : dict
        ``{'verbose': ..., 'epochs': ..., 'steps': ...}``, steps being the
        number of batches per epoch.
    model : Sequential
    """

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.params = {}
        self.model = None

    def set_params(self, params):
        self.params = dict(params)

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"
