from django.db import migrations, models


class Migration(migrations.Migration):
    """The first-model-minimum benchmark's choice (issue 28): new projects wait for 200 labelled
    subjects; existing projects keep the value they have."""

    dependencies = [
        ("labelling", "0011_volunteer_reliability"),
    ]

    operations = [
        migrations.AlterField(
            model_name="project",
            name="retrain_minimum_labelled_subjects",
            field=models.PositiveIntegerField(default=200),
        ),
    ]
