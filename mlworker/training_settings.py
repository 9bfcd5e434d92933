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
    # stopping on its first dip left round-0 models worse than the image-free baseline (README,
    # "The loop, the queue and retirement in detail").
    min_epochs: int = 25
    batch_size: int = 32
    min_steps_per_epoch: int = 20
    patience: int = 8
    lr_patience: int = 6  # epochs without a better validation NLL before the rate halves
    learning_rate: float = 2e-3
    # A version is this many networks, each trained from its own initialisation (or each from the
    # matching member of the version it warm-starts from), their MC samples pooled when scoring:
    # pooling lowered the test NLL on both image kinds, where keeping the one with the lower
    # validation NLL was decided by a noisy validation split (the levers screens' changes against
    # scratch: `headline.levers.<kind>.pooled` in benchmarks/results/levers_more.json and
    # `.ensemble` in levers.json; README, "Levers for a model that learns from few labels").
    members: int = 2
    # With one member: a network starting from random weights is trained this many times from
    # different initialisations and the one with the lowest validation NLL kept (before pooling,
    # a first model's training run on few labels sometimes failed to learn the image).
    fresh_restarts: int = 2
    validation_share: float = 0.15
    held_out_share: float = 0.15
    # Weight of the agreement between two views of unlabelled images in each step's loss
    # (consistency.py); 0: the model learns from labelled images alone (its screen against that:
    # `headline.levers.<kind>.consistency` in benchmarks/results/levers_consistency.json).
    consistency_weight: float = 0.0
    # A model started from another one's trunk (transfer.py) first trains only its new head for
    # this many epochs, the trunk frozen, then every layer at fine_tune_rate x learning_rate. The
    # rate was chosen in probes on the transfer benchmark's data against 1x, 0.1x and no frozen
    # epochs (README, "Does starting from a model that already knows save labels?", the probes'
    # table); the run with these values is benchmarks/results/transfer.json (`settings`, and
    # `headline.label_saving`).
    frozen_epochs: int = 10
    fine_tune_rate: float = 0.3
    # How a version's MC samples are calibrated after training, on the validation subjects' votes
    # (mlworker/calibration.py): "overdispersion" (a noise level per question, chosen by the
    # validation vote NLL: in issue 42's screen it kept the 50/80/95% coverage within 3 points on
    # synthetic galaxies, cells and IHC tissue crops at 300 and 500 labels, the test NLL within
    # 0.004 nats of the samples as drawn at every point, and 0.03-0.06 nats lower at 100 labels on
    # cells and tissue), "spread", "temperature" (screened, not better), or "none" (the samples as
    # drawn; the model before issue 42).
    calibration: str = "overdispersion"


DEFAULT_SETTINGS = TrainingSettings()  # production overrides fields from the environment
