from django.conf import settings
from django.db import migrations

UPGRADE_REASON = (
    "Approved by the upgrade to project teams (migration 0014): the project existed before "
    "reviews, and its staff could publish it."
)


def staff_own_every_project(apps, schema_editor):
    """Today's access, kept: before teams, every staff account could see and change every project.
    Each existing staff account (is_staff or superuser) becomes an owner of each existing project,
    recorded in the project's team history; each existing project counts as approved, so that its
    team may publish it again as before."""
    Project = apps.get_model("labelling", "Project")
    Membership = apps.get_model("labelling", "Membership")
    MembershipChange = apps.get_model("labelling", "MembershipChange")
    ProjectReview = apps.get_model("labelling", "ProjectReview")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    staff = list(User.objects.filter(is_staff=True) | User.objects.filter(is_superuser=True))
    for project in Project.objects.all():
        for user in staff:
            _, created = Membership.objects.get_or_create(
                project=project, user=user, defaults={"role": "owner"}
            )
            if created:
                MembershipChange.objects.create(
                    project=project,
                    member=user,
                    member_name=user.username,
                    action="added",
                    role_after="owner",
                )
        ProjectReview.objects.create(project=project, status="approved", reason=UPGRADE_REASON)


class Migration(migrations.Migration):
    dependencies = [
        ("labelling", "0013_project_teams"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(staff_own_every_project, migrations.RunPython.noop)]
