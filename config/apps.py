from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The desk as a whole: connects the apps' reactions once every app is loaded."""

    name = "config"
    label = "desk"
    verbose_name = "Service desk"

    def ready(self) -> None:
        from config import reactions  # the apps' models must be loaded before their services import

        reactions.connect()
