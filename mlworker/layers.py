"""Dropout that stays on at prediction time (Monte Carlo dropout)."""

import keras


@keras.saving.register_keras_serializable(package="starling")
class AlwaysOnDropout(keras.layers.Dropout):
    """Dropout applied in training AND inference, so each forward pass samples a new mask.

    Keras switches `Dropout(x, training=True)` off inside `model.predict()` when the flag is given
    at graph-construction time; forcing it inside `call` is what survives every entry point.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="starling")
class MatchChannels(keras.layers.Layer):
    """Greyscale to RGB (the one channel repeated) or RGB to greyscale (luminance weights), so a
    project's images fit a source model trained on the other kind (transfer.py)."""

    LUMINANCE = (0.299, 0.587, 0.114)

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"Invalid value for channels: expected 1 or 3, received {channels}")
        self.channels = channels

    def call(self, inputs):
        if self.channels == 3:
            return keras.ops.repeat(inputs, 3, axis=-1)
        weights = keras.ops.convert_to_tensor(self.LUMINANCE, dtype=inputs.dtype)
        return keras.ops.sum(inputs * weights, axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
