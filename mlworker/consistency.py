"""Learning from the images nobody labelled: consistency between two views of each one.

Each training step takes a batch of labelled images (the vote loss, as training.py trains) and a
batch of unlabelled ones, each seen twice under the augmentations the project allows
(`data.augment`: its symmetries when rotation-invariant, a small zoom and contrast). The network's
answer probabilities on the second view are pulled towards those on the first (held fixed), both
without dropout (the head's mean, weight-scaled, so that the two views differ by the view alone
and the pull does not shrink the spread of the dropout masks, which is the model's uncertainty):

    loss = vote loss + weight * mean_items sum_questions KL(p(view 1) || p(view 2))

so that what the few labels teach carries over to the many images that look alike under the
project's invariances (the Pi-model / mean-teacher family of semi-supervised learning).
"""

import keras
import numpy as np
import tensorflow as tf

from mlworker import data

SMALL = 1e-7  # keeps log p finite when a softmax saturates


class ConsistencyTrainer(keras.Model):
    """Trains `trainer` (model.py's image -> [batch, masks, answers]) on ((images, counts),
    (view 1, view 2)) batches; `trunk` and `answer_layers` ({question: its softmax layer}, the head's
    layers after dropout) are the same network's."""

    def __init__(
        self, trainer: keras.Model, trunk: keras.Model, answer_layers: dict, weight: float, **kwargs
    ):
        super().__init__(**kwargs)
        self.trainer, self.trunk, self.weight = trainer, trunk, float(weight)
        self.answer_layers = answer_layers

    def mean_answers(self, images) -> dict:
        """{question: [items, answers]}: the head without dropout on the trunk's features."""
        features = self.trunk(images, training=True)
        return {key: layer(features) for key, layer in self.answer_layers.items()}

    def call(self, inputs, training=False):
        return self.trainer(inputs, training=training)

    def train_step(self, batch):
        (images, counts), (first_view, second_view) = batch
        variables = self.trainer.trainable_variables
        with tf.GradientTape() as tape:
            predicted = self.trainer(images, training=True)
            vote_loss = self.compute_loss(x=images, y=counts, y_pred=predicted)
            disagreement = view_disagreement(
                self.mean_answers(first_view), self.mean_answers(second_view)
            )
            total = vote_loss + self.weight * disagreement
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
        return {"loss": vote_loss, "consistency": disagreement}


def view_disagreement(first: dict, second: dict) -> tf.Tensor:
    """Mean over items of sum over questions of KL(first || second), `first` held fixed.
    first, second: {question: [items, answers]}."""
    total = 0.0
    for key, target in first.items():
        target = tf.stop_gradient(target)
        log_ratio = tf.math.log(target + SMALL) - tf.math.log(second[key] + SMALL)
        total += tf.reduce_mean(tf.reduce_sum(target * log_ratio, axis=-1))
    return total


def unlabelled_views(
    images: np.ndarray, *, batch_size: int, seed: int, rotation_invariant: bool
) -> tf.data.Dataset:
    """Endless (view 1, view 2) batches of the unlabelled images, each view augmented on its own."""
    dataset = tf.data.Dataset.from_tensor_slices(data.as_image_batch(images))
    dataset = dataset.shuffle(min(len(images), 20000), seed=seed + 1).repeat().batch(batch_size)
    seeds = tf.data.Dataset.random(seed=seed + 2).batch(4)

    def views(batch, batch_seeds):
        batch_seeds = tf.cast(batch_seeds, tf.int32)
        return tuple(
            data.augment(batch, rotation_invariant=rotation_invariant, seed=batch_seeds[i : i + 2])
            for i in (0, 2)
        )

    return tf.data.Dataset.zip((dataset, seeds)).map(views, num_parallel_calls=tf.data.AUTOTUNE)
