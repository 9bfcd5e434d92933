"""The Bayesian CNN: a deterministic convolutional trunk and a dropout head, one softmax per question.

The trunk carries no dropout, so Monte Carlo scoring computes it once per image and runs only the
head T times (scoring.py).
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from mlworker import transfer
from mlworker.layers import AlwaysOnDropout, MatchChannels
from mlworker.questions import QuestionConfig

SOURCE_LAYER = "source_trunk"  # the transferred trunk inside a model's trunk (training freezes it)


@dataclass(frozen=True)
class ModelConfig:
    image_size: int = 64
    channels: int = 1
    questions: tuple[QuestionConfig, ...] = ()
    conv_filters: tuple[int, ...] = (32, 32, 64, 64, 128, 128)
    # After which convolution (0-based) a 2x2 max-pool follows: the paper's conv32x2, pool,
    # conv64x2, pool, conv128, pool, conv128, pool.
    pool_after: tuple[int, ...] = (1, 3, 4, 5)
    dense_units: int = 128
    dropout_rate: float = 0.5
    # "flatten" (the paper's Flatten -> Dense) or "average" (global average pooling: far fewer
    # weights in the dense layer, which matters when a first round trains on 100 subjects).
    pooling: str = "flatten"
    # L2 penalty on every kernel (convolutions, dense and heads), added to the vote loss.
    weight_decay: float = 0.0
    # Training objective: each item's votes are scored under `training_masks` dropout masks at
    # once, loss = -(1/alpha) log mean_k p(votes | mask k)^alpha (Li & Gal 2017; alpha = 1 is the
    # MC predictive's own likelihood). training_masks = 1 is plain dropout training.
    training_masks: int = 1
    mask_alpha: float = 1.0
    # Pixel standardisation, fitted on the training images (training.py) and reused when scoring.
    pixel_mean: float = 0.0
    pixel_std: float = 1.0
    # Output bias per question: log of the mean vote fraction per answer (None = zeros).
    initial_log_fractions: dict | None = field(default=None, compare=False)
    # Where the trunk comes from: None for the convolutions above, trained from random weights, or
    # a source model whose trunk this one fine-tunes (transfer.py: another project's version or a
    # Keras file). With a source, the convolution fields above are unused.
    trunk_source: dict | None = None
    # Views an image is scored under: 1, or 8 (the square's symmetries: every 90-degree turn and
    # mirror) for images with no "up", so that the MC samples average over them (scoring.py).
    test_time_symmetries: int = 1
    # Networks in the version: 1, or more trained from different initialisations (or each from
    # its predecessor's member) whose MC samples are pooled when scoring (pipeline.py).
    members: int = 1
    # A transform of the MC samples fitted after training on the validation subjects' votes
    # (calibration.py): {"spread", "temperature", ...}; None: the samples as the network draws them.
    calibration: dict | None = field(default=None, compare=False)

    def __post_init__(self):
        if not self.questions:
            raise ValueError("Invalid model config: expected at least one question, received none")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(
                f"Invalid value for dropout_rate: expected 0 <= rate < 1, received {self.dropout_rate}"
            )
        if self.pooling not in ("flatten", "average"):
            raise ValueError(
                f"Invalid value for pooling: expected 'flatten' or 'average', received {self.pooling!r}"
            )
        if self.test_time_symmetries not in (1, 8):
            raise ValueError(
                "Invalid value for test_time_symmetries: expected 1 or 8, received "
                f"{self.test_time_symmetries}"
            )
        if self.members < 1:
            raise ValueError(f"Invalid value for members: expected >= 1, received {self.members}")
        if self.image_size < 8:
            raise ValueError(
                f"Invalid value for image_size: expected >= 8, received {self.image_size}"
            )

    @property
    def question_keys(self) -> list[str]:
        return [question.key for question in self.questions]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["questions"] = [
            {
                "key": q.key,
                "answers": list(q.answers),
                "reached_from": [list(e) for e in q.reached_from],
            }
            for q in self.questions
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        data = dict(data)
        data["questions"] = tuple(
            QuestionConfig(
                key=q["key"],
                answers=tuple(q["answers"]),
                reached_from=tuple(tuple(edge) for edge in q.get("reached_from", ())),
            )
            for q in data["questions"]
        )
        for name in ("conv_filters", "pool_after"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data)

    def replace(self, **changes) -> "ModelConfig":
        return ModelConfig.from_dict({**self.to_dict(), **changes})


@dataclass
class BayesianCNN:
    """`full`: image -> {question: probabilities}; `trunk`: image -> features; `head`: features -> outputs.

    `trainer` (built by training.py, sharing the same layers): image -> [batch, masks, all answers],
    the head run under `config.training_masks` masks per image, answers in question order.
    `extra_members`: the version's other networks (same config, other weights), whose MC samples
    scoring pools with this one's; what reads one network (a trunk to transfer, features for
    diversity) reads this first member.
    """

    config: ModelConfig
    full: keras.Model
    trunk: keras.Model
    head: keras.Model
    trainer: keras.Model | None = None
    extra_members: list["BayesianCNN"] = field(default_factory=list, repr=False)

    @property
    def members(self) -> list["BayesianCNN"]:
        return [self, *self.extra_members]


def _regulariser(config: ModelConfig):
    return keras.regularizers.L2(config.weight_decay) if config.weight_decay else None


def build_trunk(config: ModelConfig, *, pretrained: bool = True) -> keras.Model:
    """image -> features. With a `trunk_source`, the source's trunk behind an input adapter, with
    the source's weights when `pretrained` (a saved version loads its own weights over them)."""
    if config.trunk_source is not None:
        return build_source_trunk(config, pretrained=pretrained)
    inputs = keras.Input((config.image_size, config.image_size, config.channels), name="image")
    # Pixels arrive in [0, 1]; standardise with the training set's statistics, kept in the config.
    x = keras.layers.Rescaling(
        1.0 / config.pixel_std, offset=-config.pixel_mean / config.pixel_std, name="standardise"
    )(inputs)
    for index, filters in enumerate(config.conv_filters):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_regularizer=_regulariser(config),
            name=f"conv{index}",
        )(x)
        if index in config.pool_after:
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    if config.pooling == "average":
        x = keras.layers.GlobalAveragePooling2D(name="global_average")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    features = keras.layers.Dense(
        config.dense_units,
        activation="relu",
        kernel_regularizer=_regulariser(config),
        name="dense",
    )(x)
    return keras.Model(inputs, features, name="trunk")


def build_head(config: ModelConfig, feature_count: int) -> keras.Model:
    features = keras.Input((feature_count,), name="features")
    dropped = AlwaysOnDropout(config.dropout_rate, name="mc_dropout")(features)
    outputs = {}
    for question in config.questions:
        bias = None
        if config.initial_log_fractions and question.key in config.initial_log_fractions:
            bias = keras.initializers.Constant(
                np.asarray(config.initial_log_fractions[question.key], dtype="float32")
            )
        outputs[question.key] = keras.layers.Dense(
            len(question.answers),
            activation="softmax",
            bias_initializer=bias or "zeros",
            # Zero weights: an untrained model predicts the mean vote fractions for every image
            # (the biases), instead of random confident answers that training must first undo.
            kernel_initializer="zeros",
            kernel_regularizer=_regulariser(config),
            name=f"answers_{question.key}",
        )(dropped)
    return keras.Model(features, outputs, name="head")


class _MaskRows(keras.layers.Layer):
    """A layer that knows how many dropout masks each image's rows stand for."""

    def __init__(self, times: int, **kwargs):
        super().__init__(**kwargs)
        self.times = times

    def get_config(self):
        return {**super().get_config(), "times": self.times}


@keras.saving.register_keras_serializable(package="starling")
class RepeatRows(_MaskRows):
    """[batch, d] -> [batch * times, d], each row repeated `times` times in a row."""

    def call(self, inputs):
        return keras.ops.repeat(inputs, self.times, axis=0)


@keras.saving.register_keras_serializable(package="starling")
class GroupRows(_MaskRows):
    """[batch * times, w] -> [batch, times, w] (undoes RepeatRows after the head)."""

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, self.times, keras.ops.shape(inputs)[-1]))


def build_trainer(model: "BayesianCNN") -> keras.Model:
    """image -> [batch, training_masks, all answers]: one trunk pass, the head under many masks."""
    config = model.config
    inputs = keras.Input((config.image_size, config.image_size, config.channels), name="image")
    repeated = RepeatRows(config.training_masks, name="repeat_masks")(model.trunk(inputs))
    outputs = model.head(repeated)
    answers = keras.layers.Concatenate(axis=-1, name="all_answers")(
        [outputs[question.key] for question in config.questions]
    )
    grouped = GroupRows(config.training_masks, name="group_masks")(answers)
    return keras.Model(inputs, grouped, name="bayesian_cnn_trainer")


def build_model(config: ModelConfig, *, pretrained: bool = True) -> BayesianCNN:
    """The paper-shaped network: conv trunk, dense 128, always-on dropout, a softmax per question.

    With a `trunk_source`, the source's trunk (its weights when `pretrained`) and a fresh head.
    """
    trunk = build_trunk(config, pretrained=pretrained)
    head = build_head(config, int(trunk.output.shape[-1]))
    inputs = keras.Input((config.image_size, config.image_size, config.channels), name="image")
    full = keras.Model(inputs, head(trunk(inputs)), name="bayesian_cnn")
    return BayesianCNN(config=config, full=full, trunk=trunk, head=head)


def build_source_trunk(config: ModelConfig, *, pretrained: bool) -> keras.Model:
    """image [size, size, channels] -> features: the source's trunk (another project's version or a
    Keras file, transfer.py) behind the input adapter."""
    source = _source_model(config.trunk_source, pretrained)
    height, width, channels = source.input.shape[1:]
    inputs = keras.Input((config.image_size, config.image_size, config.channels), name="image")
    x = inputs
    if channels != config.channels:
        x = MatchChannels(channels, name="match_channels")(x)
    side = (height or config.image_size, width or config.image_size)
    if side != (config.image_size, config.image_size):
        x = keras.layers.Resizing(*side, interpolation="bilinear", name="resize_to_source")(x)
    features = source(x)
    if len(features.shape) == 4:  # a feature map: one value per channel
        features = keras.layers.GlobalAveragePooling2D(name="source_pooling")(features)
    return keras.Model(inputs, features, name="trunk")


def _source_model(source: dict, pretrained: bool) -> keras.Model:
    if source.get("kind") == "version":
        earlier = build_model(ModelConfig.from_dict(source["config"]), pretrained=False)
        if pretrained:
            earlier.full.load_weights(source["weights"])
        trunk = earlier.trunk
    elif source.get("kind") == "keras":
        trunk = transfer.load_keras_file(Path(source["path"]))
    else:
        raise ValueError(
            f"Invalid trunk source: expected kind 'version' or 'keras', received {source.get('kind')!r}"
        )
    return keras.Model(trunk.inputs[0], trunk.outputs[0], name=SOURCE_LAYER)
