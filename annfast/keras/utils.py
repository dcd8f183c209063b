"""``annfast.keras.utils.set_random_seed``, as in Keras."""

from annfast._validation import check_scalar
from annfast.keras import _naming

__all__ = ["set_random_seed"]


def set_random_seed(seed):
    """Seed every random draw of the models created afterwards (initial weights,
    shuffling).  The same seed and the same script give the same bits.

    Parameters
    ----------
    seed : int >= 0
    """
    seed = check_scalar(seed, "seed", low=0, integer=True)
    _naming.set_root_seed(seed)
