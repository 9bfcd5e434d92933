"""The model's side: versions, their predictions, and the rounds they pick."""

from django.db import models

from labelling.models.projects import AcquisitionStrategy, Project
from labelling.models.subjects import Subject


class ModelVersionStatus(models.TextChoices):
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ModelVersion(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ModelVersionStatus.choices, default=ModelVersionStatus.TRAINING
    )
    artefact_path = models.CharField(max_length=500, blank=True)
    training_set_size = models.PositiveIntegerField(default=0)
    # Classifications in the project when training started: the beat rule counts new votes from it.
    classifications_at_start = models.PositiveIntegerField(default=0)
    # The project's tree version it was trained under: only a version of the current tree steers
    # retirement and the crowd's prior (model_selectors.model_version_latest_good).
    tree_version = models.PositiveIntegerField(default=1)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    # Its held-out vote NLL was higher than the image-free baseline's: it does not steer the queue.
    worse_than_baseline = models.BooleanField(default=False)
    # What training started from, for people: "random weights", "v3 of this project", or the
    # project's starting model ("galaxies v5 (a model version), fine-tuned").
    started_from = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="model_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number} ({self.status})"

    @property
    def held_out_summary(self) -> dict:
        """{"items", "nll", "baseline_nll", "coverage", "difference_se", "worse"} on the held-out
        split (empty before it is judged; versions judged before the paired rule have no
        "difference_se", before calibration no "coverage": {"50", "80", "95"})."""
        return self.metrics.get("_held_out", {})

    @property
    def calibration(self) -> dict:
        """{"method", "items", "noise", "spread", "temperature", ...}: how its MC samples were
        calibrated after training, on that many validation subjects (mlworker/calibration.py;
        empty for a version from before calibration)."""
        return self.metrics.get("_calibration", {})

    @property
    def calibration_summary(self) -> str:
        """The calibration in words ("overdispersion: smooth 0.3, bar 0.6"), "" for none."""
        fitted = self.calibration
        if fitted.get("method") in (None, "none"):
            return ""
        if fitted["method"] == "overdispersion":
            levels = ", ".join(f"{key} {level:g}" for key, level in fitted.get("noise", {}).items())
            return f"overdispersion: {levels}"
        return f"{fitted['method']} {fitted.get(fitted['method'], '')}"

    @property
    def against_previous(self) -> dict:
        """{"version", "items", "nll", "previous_nll", "difference_se", "better", "worse"}: this
        version beside the one it warm-started from, on the same held-out subjects and votes
        (empty for a first version, one without held-out subjects, or one judged before this)."""
        return self.metrics.get("_against_previous", {})

    @property
    def worse_within_allowance(self) -> bool:
        """Its held-out NLL is above the baseline's, but by less than the allowance
        (mlworker.pipeline.WORSE_STANDARD_ERRORS standard errors): it still orders the queue."""
        held_out = self.held_out_summary
        model, baseline = held_out.get("nll"), held_out.get("baseline_nll")
        return not self.worse_than_baseline and None not in (model, baseline) and model > baseline


class Prediction(models.Model):
    """The model's view of one subject: per question and answer, the posterior over votes."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions"
    )
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="predictions")
    # {question_key: {"mutual_information": float, "expected_votes": float,
    #                 "answers": {answer_key: {"mean": f, "low": f, "high": f}}}}
    # mean = posterior mean vote fraction; low/high = 90% credible interval for k / N.
    per_question = models.JSONField()
    # {question_key: [[p_answer for answer] for sample]}: the MC samples, for the subject page.
    samples = models.JSONField(default=dict, blank=True)
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_version", "subject"], name="one_prediction"),
        ]
        indexes = [models.Index(fields=["model_version", "-score"], name="prediction_score_idx")]

    def __str__(self) -> str:
        return f"prediction of subject {self.subject_id} by version {self.model_version_id}"


class AcquisitionRound(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rounds")
    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, related_name="acquisition_round"
    )
    strategy = models.CharField(max_length=32, choices=AcquisitionStrategy.choices)
    batch_size = models.PositiveIntegerField()
    exploration_share = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"round of model version {self.model_version_id}"


class AcquisitionPick(models.Model):
    acquisition_round = models.ForeignKey(
        AcquisitionRound, on_delete=models.CASCADE, related_name="picks"
    )
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="picks")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    is_exploration = models.BooleanField(default=False)

    class Meta:
        ordering = ["acquisition_round", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["acquisition_round", "subject"], name="one_pick_per_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"pick {self.rank} of round {self.acquisition_round_id}"
