"""Write the seed corpus of tests/fuzz/fuzz_loaders.py (run from the repository root).

Per loader: valid small model files (first byte 0: the file as it is), their
meta documents (first byte 1: packed with the harness's seed parameters) and
a few mutations of each: truncations, a flipped byte, a damaged .npy header.
The seed models' parameters are np.linspace(-1, 1, n), as in the harness.
"""

import io
import json
import os
import zipfile

import numpy as np

from annfast import NeuralNet, keras

HERE = os.path.dirname(os.path.abspath(__file__))


def seed_models():
    net = NeuralNet([3, 4, 2], seed=0)
    net._set_params(np.linspace(-1.0, 1.0, net.n_params))
    model = keras.Sequential([keras.layers.Dense(4, input_dim=3, dtype="float64"),
                              keras.layers.Dense(2, use_bias=False)])
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    model._params = np.linspace(-1.0, 1.0, model._params.size)
    model._params[-2:] = 0.0  # the last layer has use_bias=False: its stored biases are 0
    return {"neuralnet": net, "keras": model}


def files(model, folder):
    path = os.path.join(folder, "m.npz")
    model.save(path)
    with open(path, "rb") as f:
        data = f.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        meta = zf.read("meta.npy")
    text = np.load(io.BytesIO(meta)).tobytes()
    doc = json.loads(text)
    out = {"valid": b"\0" + data, "meta": b"\1" + text,
           "truncated-half": b"\0" + data[:len(data) // 2],
           "truncated-tail": b"\0" + data[:-22],
           "flipped-byte": b"\0" + data[:200] + bytes([data[200] ^ 0x55]) + data[201:],
           "npy-header-unbalanced": b"\0" + data.replace(b"'shape': (", b"'shape': ((", 1),
           "meta-wrong-kind": b"\1" + json.dumps({**doc, "kind": "other"}).encode(),
           "meta-config-empty": b"\1" + json.dumps({**doc, "config": {}}).encode()}
    return out


def main():
    import tempfile

    for name, model in seed_models().items():
        folder = os.path.join(HERE, "corpus", name)
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            for label, content in files(model, tmp).items():
                with open(os.path.join(folder, label), "wb") as f:
                    f.write(content)


if __name__ == "__main__":
    main()
