"""Start a model from one that already knows: another project's version, or a Keras file.

This module reads and checks Keras files; model.build_trunk builds a transferred model from either
source: the source's trunk behind an input adapter (the project's images resized to the source's
input, greyscale and RGB converted either way), under a fresh dropout head with one softmax per
question of the new project. training.train fine-tunes it in two phases, as transfer practice does
with few labels: the source trunk frozen while the new head learns, then every layer at a lower
learning rate.

`ModelConfig.trunk_source` names the source, in one of two forms (labelling.staff.start_models writes
them, copying the files into the project's own folder first):

    {"kind": "version", "label": ..., "config": <the source version's config>, "weights": <file>}
    {"kind": "keras", "label": ..., "path": <a .keras file that passed inspect_keras_file>}

A Keras file is loaded in safe mode (Keras refuses to run Python code stored in it) and loading
never downloads anything. `python -m mlworker.transfer FILE` checks a file in a process of its own,
which is how the web process (which never imports TensorFlow) validates an upload.
"""

import json
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np

SIDES = (8, 1024)  # the input sides a file may ask for, in pixels
MAX_UNPACKED_BYTES = 2 * 2**30  # a zip that expands to more is refused before Keras reads it


class TrunkRefused(ValueError):
    """A file that cannot be a trunk; the message says why, in words staff can act on."""


def load_keras_file(path: Path) -> keras.Model:
    """A .keras file's model, in safe mode, uncompiled; TrunkRefused when Keras cannot load it."""
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, KeyError, OSError...
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "safe_mode" in str(error) or "Lambda" in str(error):
            raise TrunkRefused(
                "Refused: the file holds Python code (a Lambda layer), which Starling never runs "
                "(Keras safe mode). Rebuild the model without Lambda layers."
            ) from None
        raise TrunkRefused(f"Not a Keras model Keras can load: {text[:300]}") from None
    if not isinstance(model, keras.Model):
        raise TrunkRefused(
            f"Not a Keras model: the file holds a {type(model).__name__}, expected a keras.Model"
        )
    return model


def inspect_keras_file(path: Path) -> dict:
    """Check that a file can be a trunk; {"input": [h, w, c], "features", "parameters"} if so.

    In order: a .keras archive (a zip with config.json), Keras loads it in safe mode, one 4-D
    image input with 1 or 3 channels and sides Starling can resize to, one output of features
    [batch, n] or a feature map [batch, h, w, n], and it runs on a blank image. Each failure
    raises TrunkRefused saying which.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise TrunkRefused(
            "Not a Keras model file: expected a .keras archive (a zip written by model.save), "
            "received something else"
        )
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        unpacked = sum(member.file_size for member in archive.infolist())
    if "config.json" not in names:
        raise TrunkRefused(
            "Not a Keras model file: the archive has no config.json (expected a file written by "
            "model.save('name.keras'))"
        )
    if unpacked > MAX_UNPACKED_BYTES:
        raise TrunkRefused(
            f"Too large: the archive unpacks to {unpacked / 2**20:.0f} MB, the limit is "
            f"{MAX_UNPACKED_BYTES / 2**20:.0f} MB"
        )
    model = load_keras_file(path)
    if len(model.inputs) != 1:
        raise TrunkRefused(f"Expected one image input, the model has {len(model.inputs)}")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise TrunkRefused(
            f"Expected a 4-D image input (batch, height, width, channels), received {shape}"
        )
    height, width, channels = shape[1:]
    if channels not in (1, 3):
        raise TrunkRefused(
            f"An input Starling cannot adapt: expected 1 or 3 channels, received {channels} "
            f"(input {shape})"
        )
    for side in (height, width):
        if side is not None and not SIDES[0] <= side <= SIDES[1]:
            raise TrunkRefused(
                f"An input Starling cannot adapt: expected sides of {SIDES[0]} to {SIDES[1]} "
                f"pixels, received {height} x {width}"
            )
    if len(model.outputs) != 1 or len(model.outputs[0].shape) not in (2, 4):
        shapes = [tuple(output.shape) for output in model.outputs]
        raise TrunkRefused(
            "Expected one output of features, (batch, n) or a feature map (batch, h, w, n), "
            f"received {shapes}"
        )
    blank = np.zeros((1, height or 64, width or 64, channels), np.float32)
    try:
        features = np.asarray(model(blank, training=False))
    except Exception as error:
        raise TrunkRefused(f"The model does not run on a blank image: {error}"[:400]) from None
    if not np.all(np.isfinite(features)):
        raise TrunkRefused("The model gives non-finite features (NaN or inf) on a blank image")
    return {
        "input": [height, width, int(channels)],
        "features": int(features.shape[-1]),
        "parameters": int(model.count_params()),
    }


def main(argv=None) -> int:
    """`python -m mlworker.transfer FILE`: one JSON line, {"ok": true, ...} or {"ok": false, "error"}."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print(json.dumps({"ok": False, "error": "usage: python -m mlworker.transfer FILE.keras"}))
        return 2
    try:
        report = {"ok": True, **inspect_keras_file(Path(arguments[0]))}
    except TrunkRefused as error:
        report = {"ok": False, "error": str(error)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
