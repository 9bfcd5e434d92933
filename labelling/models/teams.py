"""Who works on a project and how far (a role per member), every change to that, and the requests
for a site administrator's review before a project goes public. What each role may do is
labelling/teams/permissions.py's to say."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from labelling.models.projects import Project


class Role(models.TextChoices):
    """Each role may do everything the next one may, and more."""

    OWNER = "owner", "owner"
    COLLABORATOR = "collaborator", "collaborator"
    RESEARCHER = "researcher", "researcher"
    TESTER = "tester", "tester"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is {self.role} of project {self.project_id}"


class MembershipAction(models.TextChoices):
    CREATED = "created", "started the project as its owner"
    ADDED = "added", "added"
    ROLE_CHANGED = "role_changed", "changed the role of"
    REMOVED = "removed", "removed"


class MembershipChange(models.Model):
    """One change to a project's team: who made it, to whom, what, when. Never deleted (a deleted
    account leaves its name in `member_name` and `by_name`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="team_changes")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_name = models.CharField(max_length=150, blank=True, default="")  # "" : the upgrade
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member_name = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=MembershipAction.choices)
    role_before = models.CharField(max_length=16, choices=Role.choices, blank=True, default="")
    role_after = models.CharField(max_length=16, choices=Role.choices, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.by_name or 'the upgrade'} {self.get_action_display()} {self.member_name}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "waiting for a site administrator"
    APPROVED = "approved", "approved"
    DECLINED = "declined", "declined"


class ProjectReview(models.Model):
    """An owner's request that a site administrator let the project go public, and the decision
    (with the reason the owner reads). A project may go public once one was approved."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reviews")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, default="")  # the owner's word to the administrator
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")  # why, for the owner

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status="pending"),
                name="one_pending_review_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"review of project {self.project_id} ({self.status})"
