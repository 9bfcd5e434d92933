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
