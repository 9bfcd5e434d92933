"""Tables and small properties only. Writes and reads live in the packages beside this module
(README, "Where things live")."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from labelling import retirement_reasons


class AcquisitionStrategy(models.TextChoices):
    BALD = "bald", "BALD, top-k by mutual information"
    POWER_BALD = "power_bald", "Power BALD (sample the batch with probability ∝ score^β)"
    DIVERSE_BALD = "diverse_bald", "BALD with a diversity penalty in feature space"
    ENTROPY = "entropy", "Maximum predictive entropy"
    RANDOM = "random", "Random"


class RetirementRule(models.TextChoices):
    FIXED_COUNT = "fixed_count", "Fixed count: retire at the retirement limit"
    MODEL_AWARE = "model_aware", "Model-aware: retire once more votes would change nothing"


class RetirementReason(models.TextChoices):
    NONE = "", "Not retired"
    LIMIT = retirement_reasons.LIMIT, "Retirement limit reached"
    MODEL = retirement_reasons.MODEL, "Settled by the model and the votes"


# A round's picks get priorities from ROUND_PRIORITY_BASE up (labelling/loop/rounds.py), everyone else
# their acquisition score (far below it): a subject at or above it is one the model asks about now.
ROUND_PRIORITY_BASE = 1_000_000.0


class RetrainState(models.TextChoices):
    IDLE = "idle", "Idle"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    image_size = models.PositiveIntegerField(
        default=64, validators=[MinValueValidator(8), MaxValueValidator(512)]
    )
    image_channels = models.PositiveSmallIntegerField(
        default=1, choices=[(1, "Greyscale"), (3, "RGB")]
    )
    retirement_limit = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    # Model-aware retirement (labelling/retirement/rule.py): retire before the limit once the latest
    # good model version and the votes settle every reached question's final vote fractions (90%
    # interval narrower than the threshold, or expected change below `retirement_max_expected_change`
    # votes), after at least `retirement_minimum_votes` classifications. The limit always retires.
    # Defaults from `make bench-retirement`: width 0.07 and change 0.3 kept the fixed rule's
    # catalogue RMSE with half its votes; 0.2 and one vote spent 29% but ended 21% worse.
    retirement_rule = models.CharField(
        max_length=16, choices=RetirementRule.choices, default=RetirementRule.FIXED_COUNT
    )
    retirement_threshold = models.FloatField(
        default=0.07, validators=[MinValueValidator(0.01), MaxValueValidator(1.0)]
    )
    retirement_max_expected_change = models.FloatField(
        default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)]
    )
    retirement_minimum_votes = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    acquisition_batch_size = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1)]
    )
    exploration_share = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # BALD (joint MI of the tree's votes) is the default: the active-learning benchmark's figures
    # for it against random are in the README. Every round also mixes in the project's share of
    # random picks.
    acquisition_strategy = models.CharField(
        max_length=32, choices=AcquisitionStrategy.choices, default=AcquisitionStrategy.BALD
    )
    # Dropout masks per subject when scoring (T). The trunk runs once per image, so T is cheap.
    mc_samples = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(2), MaxValueValidator(200)]
    )
    # Augmentation: flips and 90-degree rotations are right only for images with no "up".
    rotation_invariant = models.BooleanField(default=True)
    # Retraining schedule, checked by beat: retrain when either threshold is passed (0 = never).
    retrain_after_new_votes = models.PositiveIntegerField(default=200)
    retrain_after_minutes = models.PositiveIntegerField(default=60 * 24)
    # ...and not before this many subjects have votes (0 = no minimum). Default 200: the smallest
    # labelled set at which no seed's first model was worse than the image-free baseline, with a
    # held-out set the gate can judge (`make bench-first-model-minimum`, first_model_minimum.json:
    # 2 of 6 seeds worse at 100, none at 200; a test keeps the two equal).
    retrain_minimum_labelled_subjects = models.PositiveIntegerField(default=200)
    # Compare-and-set claim: at most one retrain per project at a time.
    retrain_state = models.CharField(
        max_length=16, choices=RetrainState.choices, default=RetrainState.IDLE
    )
    retrain_claimed_at = models.DateTimeField(null=True, blank=True)
    # Whose claim it is: the Celery task id of the retrain run that holds it ("" when idle). Only
    # that run may release it (compare-and-set on this token), so a late finish of an older run
    # leaves a newer run's claim alone.
    retrain_token = models.CharField(max_length=64, blank=True, default="")
    is_published = models.BooleanField(default=True)
    # What volunteers read (labelling/core/markdown.py renders it, sanitised): the tutorial shown on a
    # volunteer's first visit and the field guide opened on demand; the images' alt text.
    tutorial_markdown = models.TextField(blank=True, default="")
    field_guide_markdown = models.TextField(blank=True, default="")
    image_alt_text = models.CharField(max_length=300, blank=True, default="")
    # Where a first model starts (labelling/staff/start_models.py): {} for random weights, else the
    # `trunk_source` the worker's model config carries (mlworker/sources.py), pointing at the
    # project's own copy of another project's version or of an uploaded Keras file.
    start_model = models.JSONField(default=dict, blank=True)
    # Version stamp of what web processes cache (the tree, the Redis queue's generation): bumped
    # when staff change the tree and when a queue update could not reach Redis (labelling/queue/redis_queue.py).
    serving_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=64)
    text = models.CharField(max_length=300)
    position = models.PositiveIntegerField(default=0)
    is_root = models.BooleanField(default=False)

    class Meta:
        ordering = ["project", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="question_key_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_root=True), name="one_root_question"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.key}"


class Answer(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    key = models.SlugField(max_length=64)
    text = models.CharField(max_length=200)
    shortcut = models.CharField(max_length=1)
    position = models.PositiveIntegerField(default=0)
    next_question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="reached_from"
    )

    class Meta:
        ordering = ["question", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "key"], name="answer_key_unique"),
            models.UniqueConstraint(fields=["question", "shortcut"], name="answer_shortcut_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.question.key}:{self.key}"


class SubjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Subject(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="subjects")
    # Stored once under its content hash: media/subjects/<sha256>.<ext>
    image = models.CharField(max_length=300)
    content_hash = models.CharField(max_length=64)
    original_name = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=SubjectStatus.choices, default=SubjectStatus.ACTIVE
    )
    # {question_key: {answer_key: count}}, kept in step with Classification rows in one transaction.
    vote_counts = models.JSONField(default=dict, blank=True)
    classification_count = models.PositiveIntegerField(default=0)
    # Of those, votes from volunteers judged unreliable or excluded (labelling/crowd): they do not
    # count toward the retirement limit. Kept by the submit and recounted each round.
    untrusted_count = models.PositiveIntegerField(default=0)
    priority = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retirement_reason = models.CharField(
        max_length=16, choices=RetirementReason.choices, default=RetirementReason.NONE, blank=True
    )
    # The model version whose samples settled it (model-aware retirement only).
    retired_by_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="retired"
    )
    # The forecast it was retired on: {question: {"votes", "remaining", "answers": {answer:
    # {"mean", "low", "high", "expected_change"}}}} (labelling/retirement/rule.py, Forecast.as_json).
    retirement_forecast = models.JSONField(default=dict, blank=True)
    # classification_count when the model-aware check last looked: it re-checks only newer votes.
    retirement_checked_votes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="subject_image_unique_in_project"
            ),
        ]
        indexes = [
            # Covers the next-subject query (filter, order and the id it returns): an index-only scan.
            models.Index(fields=["project", "status", "-priority", "id"], name="subject_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"subject {self.pk} ({self.project_id})"

    @property
    def image_url(self) -> str:
        return f"{settings.MEDIA_URL}{self.image}"

    @property
    def requested_by_model(self) -> bool:
        """In the latest round's picks: the model asks volunteers about it now."""
        return self.priority >= ROUND_PRIORITY_BASE


class Volunteer(models.Model):
    """Who voted: an account, or an anonymous browser session."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    session_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # A keyed digest of the address the volunteer first came from (never the address itself):
    # sessions from one address are judged together (labelling/crowd). Empty: not known.
    address_digest = models.CharField(max_length=32, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.get_username() if self.user_id else f"anonymous {self.pk}"


class VolunteerReliability(models.Model):
    """How far a volunteer's votes in a project are trusted, as the last round estimated it
    (mlworker.reliability); their votes count with `weight` in training, the held-out judgement
    and the weighted export, and not at all toward retirement when `flagged`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reliabilities")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="reliabilities")
    weight = models.FloatField()
    kind = models.CharField(max_length=16)  # the likeliest: honest, careless or hostile
    flagged = models.BooleanField(default=False)  # weight below mlworker.reliability.FLAG_BELOW
    # Flagged or excluded: the submit counts their votes as untrusted (Subject.untrusted_count).
    untrusted = models.BooleanField(default=False)
    answers = models.PositiveIntegerField()  # answers given (a classification gives 1 or more)
    classifications = models.PositiveIntegerField()
    agreement = models.JSONField(default=dict)  # {question: share of the others agreeing | None}
    address_sessions = models.PositiveIntegerField(default=1)  # sessions judged with it
    address_weight = models.FloatField(null=True, blank=True)  # those sessions' weight together
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "volunteer"], name="one_reliability"),
        ]
        indexes = [models.Index(fields=["project", "weight"], name="reliability_weight_idx")]

    def __str__(self) -> str:
        return f"reliability of volunteer {self.volunteer_id} in project {self.project_id}"


class VolunteerExclusion(models.Model):
    """Staff's decision that a volunteer's votes stop counting in a project: recorded, never
    deleted; lifting it (who, when) makes them count again."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exclusions")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="exclusions")
    reason = models.CharField(max_length=300, blank=True, default="")
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    excluded_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "volunteer"],
                condition=Q(lifted_at__isnull=True),
                name="one_standing_exclusion",
            ),
        ]

    def __str__(self) -> str:
        return f"exclusion of volunteer {self.volunteer_id} from project {self.project_id}"


class Classification(models.Model):
    """One volunteer's pass over one subject: the source of truth for vote counts."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classifications")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="classifications")
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="classifications"
    )
    # {question_key: answer_key}, following the decision tree from the root.
    annotations = models.JSONField()
    idempotency_key = models.CharField(max_length=64)
    # The subject was already retired when this vote arrived: kept, and marked.
    after_retirement = models.BooleanField(default=False)
    # The subject was one of the model's current picks when the vote arrived (its priority was a
    # round's pick priority): set in the vote's own INSERT (labelling/volunteer/submission.py).
    requested_by_model = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "volunteer"], name="one_classification_per_volunteer"
            ),
            models.UniqueConstraint(
                fields=["volunteer", "idempotency_key"], name="classification_idempotency"
            ),
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="classification_time_idx")]

    def __str__(self) -> str:
        return f"classification {self.pk} of subject {self.subject_id}"


class FieldGuideExample(models.Model):
    """A subject staff picked as an example of one answer, for the field guide."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="field_guide_examples"
    )
    question_key = models.SlugField(max_length=64)
    answer_key = models.SlugField(max_length=64)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="guide_examples")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["project", "question_key", "answer_key", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "question_key", "answer_key", "subject"],
                name="one_guide_example_per_answer_and_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"example {self.question_key}:{self.answer_key} subject {self.subject_id}"


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
        """{"items", "nll", "baseline_nll", "difference_se", "worse"} on the held-out split (empty
        before it is judged; versions judged before the paired rule have no "difference_se")."""
        return self.metrics.get("_held_out", {})

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
