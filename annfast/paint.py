"""The tutorial's painting example: a deep net learns an image from pixel coordinates.

``python -m annfast paint [IMAGE] --out result.png`` trains
``annfast.sklearn.MLPRegressor`` to map (row, column), scaled to [0, 1], to the
pixel's (r, g, b) in [0, 1], then writes the original and the painted image side
by side and prints the PSNR and the training time.  ``--classify`` trains the
tutorial's blue/grey pixel classifier instead (one-hot targets ``(0, 1)`` for
blue, r + g + b <= 600, ``(1, 0)`` for grey) with ``MLPClassifier``, paints
each class in its mean original colour and prints the pixel accuracy.

Without IMAGE it paints scikit-learn's bundled ``china.jpg`` resized to 100x100
(nothing is downloaded).
"""

import argparse
import sys
import time
import warnings

import numpy as np

from annfast.sklearn import SOLVERS, MLPClassifier, MLPRegressor

#: The tutorial's threshold: a pixel is "blue" when r + g + b <= 600 (0..255 each).
BLUE_MAX_SUM = 600


def parse_hidden(text):
    """'100x10' -> ten layers of 100 units; '64,32' -> (64, 32)."""
    try:
        if "x" in text:
            width, depth = text.split("x")
            layers = (int(width),) * int(depth)
        else:
            layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxDEPTH (e.g. 100x10) or a comma list (e.g. 64,32), got {text!r}"
        ) from None
    if not layers or min(layers) < 1:
        raise argparse.ArgumentTypeError(f"hidden layers need >= 1 unit each, got {text!r}")
    return layers


def load_image(path=None, size=None):
    """Return the image as a uint8 array of shape (height, width, 3).

    path None loads scikit-learn's ``china.jpg`` and resizes it to 100x100 (or
    size x size); a given file is resized only when size is given.
    """
    from PIL import Image

    if path is None:
        from sklearn.datasets import load_sample_image

        image = Image.fromarray(load_sample_image("china.jpg"))
        size = size or 100
    else:
        image = Image.open(path)
    image = image.convert("RGB")
    if size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def pixel_coordinates(height, width):
    """(row, column) of every pixel, row-major, each scaled to [0, 1]; shape (h*w, 2)."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.column_stack([rows.ravel() / max(height - 1, 1),
                            cols.ravel() / max(width - 1, 1)])


def blue_grey_labels(image):
    """The tutorial's one-hot targets: (0, 1) for blue pixels, (1, 0) for grey ones."""
    blue = image.reshape(-1, 3).astype(np.int64).sum(axis=1) <= BLUE_MAX_SUM
    return np.column_stack([~blue, blue]).astype(np.int64)


def psnr(original, painted):
    """Peak signal-to-noise ratio in dB of two uint8 images (peak 255)."""
    mse = np.mean((original.astype(np.float64) - painted.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def side_by_side(left, right):
    """One uint8 image: left and right next to each other, shape (h, 2w, 3)."""
    return np.concatenate([left, right], axis=1)


def train(estimator, X, Y, epochs, classes=None, report=print):
    """Run ``epochs`` passes of partial_fit, reporting after each; return seconds spent."""
    width = len(str(epochs))
    total = 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        if classes is None:
            estimator.partial_fit(X, Y)
        else:
            estimator.partial_fit(X, Y, classes=classes)
        total += time.perf_counter() - start
        report(f"epoch {epoch:{width}d}/{epochs}  loss {estimator.loss_:.6f}  {total:7.2f} s")
    return total


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m annfast paint",
        description="Teach a deep net to paint an image from pixel coordinates.")
    parser.add_argument("image", nargs="?", default=None,
                        help="image file (default: scikit-learn's china.jpg at 100x100)")
    parser.add_argument("--out", default="painted.png",
                        help="PNG to write, original | painted (default: painted.png)")
    parser.add_argument("--classify", action="store_true",
                        help="blue/grey pixel classifier (blue: r+g+b <= 600) instead of rgb "
                             "regression")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs (default: 50)")
    parser.add_argument("--hidden", type=parse_hidden, default=(100,) * 10,
                        help="hidden layers: WIDTHxDEPTH or a comma list (default: 100x10)")
    parser.add_argument("--solver", choices=SOLVERS, default="adam",
                        help="optimizer (default: adam)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per update (default: scikit-learn's min(200, n))")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="learning_rate_init (default: 0.001 for adam, 0.01 for sgd)")
    parser.add_argument("--activation", choices=("relu", "tanh", "logistic", "identity"),
                        default="relu", help="hidden activation (default: relu)")
    parser.add_argument("--size", type=int, default=None,
                        help="resize the image to SIZE x SIZE first")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def main(argv=None):
    """Entry point of ``python -m annfast paint``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code
    if args.epochs < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.print_usage(sys.stderr)
        print("error: --epochs and --batch-size must be >= 1", file=sys.stderr)
        return 2
    if args.size is not None and args.size < 1:
        print("error: --size must be >= 1", file=sys.stderr)
        return 2
    try:
        image = load_image(args.image, args.size)
    except OSError as exc:
        print(f"error: cannot read image {args.image!r}: {exc}", file=sys.stderr)
        return 1

    height, width, _ = image.shape
    X = pixel_coordinates(height, width)
    learning_rate = args.learning_rate or (0.001 if args.solver == "adam" else 0.01)
    settings = {
        "hidden_layer_sizes": args.hidden,
        "activation": args.activation,
        "solver": args.solver,
        "learning_rate_init": learning_rate,
        "batch_size": "auto" if args.batch_size is None else args.batch_size,
        # A RandomState (not an int) keeps drawing new shuffles across
        # partial_fit calls, as one fit(max_iter=epochs) would.
        "random_state": np.random.RandomState(args.seed),
    }
    kind = "classifier (blue/grey)" if args.classify else "regressor (r, g, b)"
    name = args.image or "china.jpg"
    hidden = "x".join(map(str, args.hidden)) if len(set(args.hidden)) > 1 else (
        f"{args.hidden[0]}x{len(args.hidden)}")
    print(f"painting {name} ({width}x{height} pixels) with an MLP {kind}: hidden {hidden}, "
          f"solver {args.solver}, {args.epochs} epochs")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch_size clipped on tiny images
        if args.classify:
            Y = blue_grey_labels(image)
            ann = MLPClassifier(**settings)
            seconds = train(ann, X, Y, args.epochs, classes=[0, 1])
            predicted_blue = np.argmax(ann.predict_proba(X), axis=1) == 1
            blue = Y[:, 1] == 1
            pixels = image.reshape(-1, 3).astype(np.float64)
            colours = {True: (29, 161, 242), False: (128, 128, 128)}  # if a class is absent
            for value in (True, False):
                if np.any(blue == value):
                    colours[value] = tuple(pixels[blue == value].mean(axis=0))
            painted = np.where(predicted_blue[:, None], colours[True], colours[False])
            painted = np.round(painted).astype(np.uint8).reshape(image.shape)
            score = f"pixel accuracy: {np.mean(predicted_blue == blue):.4f}"
        else:
            Y = image.reshape(-1, 3) / 255.0
            ann = MLPRegressor(**settings)
            seconds = train(ann, X, Y, args.epochs)
            painted = np.round(np.clip(ann.predict(X), 0.0, 1.0) * 255.0).astype(np.uint8)
            painted = painted.reshape(image.shape)
            score = f"PSNR: {psnr(image, painted):.2f} dB"

    from PIL import Image

    Image.fromarray(side_by_side(image, painted)).save(args.out, format="PNG")
    print(f"training time: {seconds:.2f} s ({seconds / args.epochs:.3f} s per epoch)")
    print(score)
    print(f"wrote {args.out} (original | painted, {2 * width}x{height})")
    return 0
