from django.db import migrations, models


def same_currency_orders_at_par(apps, schema_editor):
    """Orders submitted before rates were recorded: those in the customer's base currency are
    at 1 (others stay empty until exchange rates exist)."""
    PurchaseOrder = apps.get_model("orders", "PurchaseOrder")
    PurchaseOrder.objects.exclude(status="draft").filter(currency=models.F("customer__base_currency")).update(
        base_rate=1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_list_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="purchaseorder",
            name="base_rate",
            field=models.DecimalField(
                blank=True,
                decimal_places=8,
                help_text="Units of the customer's base currency per unit of the order's, recorded on submission.",
                max_digits=18,
                null=True,
            ),
        ),
        migrations.RunPython(same_currency_orders_at_par, migrations.RunPython.noop),
    ]
