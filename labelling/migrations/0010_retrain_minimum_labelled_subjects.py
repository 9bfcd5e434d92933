from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labelling", "0009_start_model"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="retrain_minimum_labelled_subjects",
            field=models.PositiveIntegerField(default=100),
        ),
    ]
