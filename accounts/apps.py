from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and people"

    def ready(self):
        from . import webhooks  # noqa: F401  (connects the receiver of anymail's tracking signal)
