"""``python manage.py import_exchange_rates rates.csv --organization bluebird``: the same import
as the Django admin's *Import CSV* (``billing.fx.import_exchange_rates``). Every bad row goes to
standard error and the command fails with nothing written; otherwise it prints the counts."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from billing import fx


class Command(BaseCommand):
    help = "Import exchange rates (CSV: date,from,to,rate) into an organization's table: all rows, or none."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file: a header date,from,to,rate, then one rate a row")
        parser.add_argument("--organization", required=True, help="the organization's slug")

    def handle(self, *args, file: str, organization: str, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization has the slug “{organization}”.")
        path = Path(file)
        try:
            if path.stat().st_size > fx.MAX_IMPORT_BYTES:
                raise CommandError(f"{file} is larger than {fx.MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it.")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        try:
            result = fx.import_exchange_rates(organization=org, data=data)
        except fx.RateImportError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(result.summary))
