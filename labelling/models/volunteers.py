"""Who votes, how far the last round trusted them, and staff's exclusions."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from labelling.models.projects import Project


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
