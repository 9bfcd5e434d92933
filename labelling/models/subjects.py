"""The images volunteers classify, their classifications, and the field guide's examples."""

from django.conf import settings
from django.db import models

from labelling.models.projects import ROUND_PRIORITY_BASE, Project, RetirementReason
from labelling.models.volunteers import Volunteer


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
    def withdrawn(self) -> bool:
        return self.retirement_reason == RetirementReason.WITHDRAWN

    @property
    def requested_by_model(self) -> bool:
        """In the latest round's picks: the model asks volunteers about it now."""
        return self.priority >= ROUND_PRIORITY_BASE


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
    # The project's tree version it was made under (Project.tree_version): its answer to a question
    # counts only while the question's meaning dates from this version or earlier.
    tree_version = models.PositiveIntegerField(default=1)
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
