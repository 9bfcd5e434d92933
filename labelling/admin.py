from django.contrib import admin

from labelling import models


class AnswerInline(admin.TabularInline):
    model = models.Answer
    fk_name = "question"
    extra = 0


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "retirement_limit", "acquisition_strategy", "retrain_state"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(models.Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["key", "project", "text", "is_root"]
    list_filter = ["project"]
    inlines = [AnswerInline]


@admin.register(models.Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["key", "question", "shortcut", "next_question"]


@admin.register(models.Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "classification_count", "priority"]
    list_filter = ["project", "status"]
    readonly_fields = ["content_hash", "vote_counts", "classification_count"]


@admin.register(models.Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at"]


@admin.register(models.Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "subject", "volunteer", "created_at", "after_retirement"]
    list_filter = ["project"]
    raw_id_fields = ["subject", "volunteer"]


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "status", "training_set_size", "created_at"]
    list_filter = ["project", "status"]


@admin.register(models.Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["model_version", "subject", "score"]
    raw_id_fields = ["subject"]


@admin.register(models.AcquisitionRound)
class AcquisitionRoundAdmin(admin.ModelAdmin):
    list_display = ["project", "model_version", "strategy", "created_at"]


@admin.register(models.AcquisitionPick)
class AcquisitionPickAdmin(admin.ModelAdmin):
    list_display = ["acquisition_round", "subject", "rank", "score", "is_exploration"]
    raw_id_fields = ["subject"]


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Site administrators may fix a team here; owners change it on its Team page, which records
    each change (labelling/teams/members.py)."""

    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["project", "role"]
    raw_id_fields = ["user"]


@admin.register(models.ProjectReview)
class ProjectReviewAdmin(admin.ModelAdmin):
    list_display = ["project", "status", "requested_at", "decided_at"]
    list_filter = ["status"]
