"""annfast: small dense neural networks, trained per sample by compiled kernels."""

from annfast.network import NeuralNet, TrainingDivergedError
from annfast.neuron import Neuron

__version__ = "0.1.0"
__all__ = ["NeuralNet", "Neuron", "TrainingDivergedError", "__version__"]
