from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "labelling"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Starling labelling"

    def ready(self) -> None:
        # An anonymous volunteer's classifications follow them into the account they sign in to.
        from labelling.volunteer import account_pages  # noqa: F401  (connects its receiver)
