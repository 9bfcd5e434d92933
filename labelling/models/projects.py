"""A project and its question tree, with the choices its settings take."""

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
    WITHDRAWN = retirement_reasons.WITHDRAWN, "Withdrawn by the project's team"


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
    # good model version and the votes settle every reached question's final vote fractions
    # (credible interval narrower than the threshold, or expected change below
    # `retirement_max_expected_change` votes), after at least `retirement_minimum_votes`
    # classifications. The limit always retires. The defaults are the rule `make bench-retirement`
    # chose: `headline.threshold`, `.max_expected_change` and `.minimum_votes` of
    # benchmarks/results/retirement.json (`by_rule`: every rule's votes spent and final RMSE).
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
    # ...and not before this many subjects have votes (0 = no minimum). The default is the smallest
    # labelled set at which no seed's first model was worse than the image-free baseline, with a
    # held-out set the gate can judge: `headline.minimum_labelled_subjects` of
    # benchmarks/results/first_model_minimum.json (`make bench-first-model-minimum`; `by_size` has
    # the seeds worse at each size; a test keeps the two equal).
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
    # The question tree's version: a change of its shape after votes exist makes a new one
    # (labelling/core/tree_changes.py); each classification keeps the version it was made under.
    tree_version = models.PositiveIntegerField(default=1)
    # Archived: unpublished, off the staff home's default list, never retrained; kept whole.
    archived_at = models.DateTimeField(null=True, blank=True)
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
    # The tree version since which the question means what it means now (its answers, where they
    # lead and what leads to it): only votes made under this version or later count for it.
    since_version = models.PositiveIntegerField(default=1)

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


class TreeChangeKind(models.TextChoices):
    WORDING = "wording", "Wording (every vote still counts)"
    SHAPE = "shape", "Shape (a new version of the tree)"


class TreeChange(models.Model):
    """One change to a project's question tree once it had votes: who, when, what kind, which
    questions, the tree before and after (Tree.as_json). Kept with the project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tree_changes")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_name = models.CharField(max_length=150, blank=True, default="")
    kind = models.CharField(max_length=16, choices=TreeChangeKind.choices)
    # The tree version after the change (a wording change keeps the version).
    version = models.PositiveIntegerField()
    # The questions whose meaning changed (shape) or whose words changed (wording).
    questions = models.JSONField(default=list)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} change of project {self.project_id}'s tree (v{self.version})"
