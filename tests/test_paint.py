"""`python -m annfast paint`: runs end to end on a tiny image and reports its score."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from annfast import paint  # noqa: E402
from annfast.__main__ import main as cli_main  # noqa: E402


@pytest.fixture
def tiny_image(tmp_path):
    # 9 rows x 12 columns: a blue left half and a light-grey right half, with noise.
    rng = np.random.RandomState(0)
    pixels = np.empty((9, 12, 3), dtype=np.uint8)
    pixels[:, :6] = (30, 160, 240)
    pixels[:, 6:] = (225, 225, 225)
    pixels = np.clip(pixels + rng.randint(-10, 10, pixels.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "tiny.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_regression_writes_side_by_side_png_and_psnr(tiny_image, tmp_path, capsys):
    path, pixels = tiny_image
    out = tmp_path / "result.png"
    code = cli_main(["paint", str(path), "--out", str(out), "--epochs", "3", "--hidden", "8x2"])
    assert code == 0
    text = capsys.readouterr().out
    assert "epoch 3/3" in text  # progress
    assert "PSNR:" in text and "dB" in text and "training time:" in text
    with Image.open(out) as result:
        assert result.format == "PNG" and result.size == (24, 9)
        assert_array_equal(np.asarray(result.convert("RGB"))[:, :12], pixels)


def test_classify_prints_pixel_accuracy(tiny_image, tmp_path, capsys):
    path, _ = tiny_image
    out = tmp_path / "classes.png"
    code = paint.main([str(path), "--classify", "--out", str(out), "--epochs", "30",
                       "--hidden", "16", "--learning-rate", "0.05"])
    assert code == 0
    text = capsys.readouterr().out
    accuracy = float(text.split("pixel accuracy:")[1].split()[0])
    assert accuracy > 0.9  # two flat halves: an easy boundary
    with Image.open(out) as result:
        assert result.size == (24, 9)


def test_default_image_is_china_resized(tmp_path, capsys):
    out = tmp_path / "china.png"
    assert paint.main(["--size", "10", "--epochs", "1", "--hidden", "4", "--out", str(out)]) == 0
    assert "china.jpg (10x10 pixels)" in capsys.readouterr().out
    with Image.open(out) as result:
        assert result.size == (20, 10)
    assert paint.load_image().shape == (100, 100, 3)


def test_blue_grey_labels_follow_the_tutorial():
    image = np.array([[[200, 200, 200], [201, 200, 200], [0, 0, 255]]], dtype=np.uint8)
    assert_array_equal(paint.blue_grey_labels(image), [[0, 1], [1, 0], [0, 1]])


def test_pixel_coordinates_are_scaled_to_unit_square():
    X = paint.pixel_coordinates(3, 5)
    assert X.shape == (15, 2)
    assert_array_equal(X[0], [0, 0]) and assert_array_equal(X[-1], [1, 1])
    assert_array_equal(X[1], [0, 0.25])


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "10y"], "WIDTHxDEPTH"),
    (["--epochs", "0"], "--epochs"),
    (["no-such-file.png"], "cannot read image"),
])
def test_bad_arguments(argv, message, capsys, tmp_path):
    code = paint.main(argv + ["--out", str(tmp_path / "x.png")])
    assert code != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
