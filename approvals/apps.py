from django.apps import AppConfig

from orders.interfaces import register_approvals


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from .gate import ApprovalsGate  # models are loaded now

        register_approvals(ApprovalsGate())  # orders asks internal approval through it
