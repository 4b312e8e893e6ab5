"""The forms of a return's steps (SPEC §6, "Returns and credit notes"): they read what was typed
into typed values for ``orders.services.returns``; the service checks them against the order."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.files.uploadedfile import UploadedFile

from procurement.forms import NumberField, TextField
from procurement.uploads import ATTACHMENT_TYPES
from procurement.validators import business_date, no_markup

from .forms import DATE, LineRowsForm
from .models import ReturnLine, ReturnRequest
from .services.returns import MAX_ATTACHMENTS, ArrivalInput


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that takes several files at once (Django refuses ``multiple`` otherwise)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input, cleaned one by one into a list (empty when none was
    chosen); at most ``max_files``. Whether each is a PDF, PNG or JPEG of at most 10 MB is
    checked by the service (``procurement.uploads``), which names the field when it refuses."""

    def __init__(self, *, max_files: int, **kwargs):
        self.max_files = max_files
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(sorted(set(ATTACHMENT_TYPES)))}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if len(files) > self.max_files:
            raise forms.ValidationError(f"Attach at most {self.max_files} files (you chose {len(files)}).")
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        single = super().clean
        return [single(f, initial) for f in files]


class ReturnRequestForm(forms.Form):
    """*Request a return*: why, what the customer asks for, and photos; the quantities per line
    are read beside it (``ReturnLinesForm``)."""

    reason = forms.ChoiceField(
        label="Why do the goods go back?",
        choices=[("", "Choose a reason"), *ReturnRequest.Reason.choices],
        error_messages={"required": "Choose why the goods go back.", "invalid_choice": "Choose one of the reasons."},
    )
    reason_text = TextField(
        label="In your words",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for “Other”; for any reason, what the supplier should know (what is wrong, where).",
    )
    resolution = forms.ChoiceField(
        label="What do you ask for?",
        choices=ReturnRequest.Resolution.choices,
        widget=forms.RadioSelect,
        error_messages=dict.fromkeys(("required", "invalid_choice"), "Choose a credit or a replacement."),
    )
    attachments = MultipleFileField(
        label="Photos or documents",
        max_files=MAX_ATTACHMENTS,
        help_text=f"Up to {MAX_ATTACHMENTS} files: PDF, PNG or JPEG, at most 10 MB each.",
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == ReturnRequest.Reason.OTHER and not data.get("reason_text"):
            self.add_error("reason_text", "Say why the goods go back.")
        return data


class ReturnLinesForm(LineRowsForm):
    """The quantity to return of each line (``line-<id>-quantity``); blank returns none of it."""

    ROW_FIELDS = {"quantity": NumberField(required=False)}

    def quantities(self) -> dict[int, Decimal | None]:
        return {line.pk: self.row(line.pk)["quantity"] for line in self.lines}


class AcceptReturnForm(forms.Form):
    instructions = TextField(
        label="Instructions for sending the goods back",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Where to send them, how to pack and label them; the customer sees this with the RMA number.",
    )


class DeclineReturnForm(forms.Form):
    reason = TextField(
        label="Why do you decline it?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The customer is told at once, with your reason; the goods stay with them.",
    )


class ShipReturnForm(forms.Form):
    """The customer's shipment back: when it left, with whom, and its tracking number."""

    shipped_on = forms.DateField(label="Shipped back on", widget=DATE, validators=[business_date])
    carrier = forms.CharField(label="Carrier", required=False, max_length=100, validators=[no_markup])
    tracking_number = forms.CharField(label="Tracking number", required=False, max_length=100, validators=[no_markup])


class ReceiveReturnForm(forms.Form):
    """The header of *Record arrival*; what arrived of each line is read beside it."""

    received_on = forms.DateField(label="Arrived on", widget=DATE, validators=[business_date])
    note = TextField(
        label="Note to the customer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="They see it on the return, with what arrived.",
    )


class ArrivalLinesForm(LineRowsForm):
    """What arrived back of each line of the return: ``line-<id>-quantity`` and ``-condition``."""

    ROW_FIELDS = {
        "quantity": NumberField(required=False),
        "condition": forms.ChoiceField(
            choices=[("", "Choose"), *ReturnLine.Condition.choices],
            required=False,
            error_messages={"invalid_choice": "Choose one of the conditions."},
        ),
    }

    def arrived(self) -> dict[int, ArrivalInput]:
        return {line.pk: ArrivalInput(**self.row(line.pk)) for line in self.lines}
