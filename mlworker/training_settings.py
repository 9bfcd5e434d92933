"""How a round trains: every default in one place, importable without TensorFlow (the web side
shows some of these, and starling/settings.py overrides fields from the environment)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingSettings:
    """How a round trains: the one place training's defaults live, each the value the benchmark
    chose (README). `train` reads the training fields; `pipeline.fit_and_evaluate` the split and
    the restarts."""

    epochs: int = 40
    # A network starting from random weights trains this long before early stopping may stop it:
    # the validation NLL of an early round's ~15 subjects jumps by nats from epoch to epoch, and
    # stopping on its first dip left round-0 models worse than the image-free baseline (README).
    min_epochs: int = 25
    batch_size: int = 32
    min_steps_per_epoch: int = 20
    patience: int = 8
    lr_patience: int = 6  # epochs without a better validation NLL before the rate halves
    learning_rate: float = 2e-3
    # A version is this many networks, each trained from its own initialisation (or each from the
    # matching member of the version it warm-starts from), their MC samples pooled when scoring:
    # in the levers screen (README), pooling two lowered the test NLL on both image kinds, where
    # keeping the one with the lower validation NLL was decided by a noisy validation split.
    members: int = 2
    # With one member: a network starting from random weights is trained this many times from
    # different initialisations and the one with the lowest validation NLL kept (before pooling,
    # on 100 labels about one training run in five failed to learn the image).
    fresh_restarts: int = 2
    validation_share: float = 0.15
    held_out_share: float = 0.15
    # A model started from another one's trunk (transfer.py) first trains only its new head for
    # this many epochs, the trunk frozen, then every layer at fine_tune_rate x learning_rate
    # (0.3: in a probe on the transfer benchmark's data, 1.0 and no frozen epochs did worse at
    # 100 and 400 labels and 0.1 did worse at 400; README, "starting from a model").
    # Weight of the agreement between two views of unlabelled images in each step's loss
    # (consistency.py); 0: the model learns from labelled images alone.
    consistency_weight: float = 0.0
    frozen_epochs: int = 10
    fine_tune_rate: float = 0.3


DEFAULT_SETTINGS = TrainingSettings()  # production overrides fields from the environment
