from django.apps import AppConfig

from orders.interfaces import register_billing


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from .gate import BillingGate  # models are loaded now

        register_billing(BillingGate())  # orders asks for documents and payments through it
