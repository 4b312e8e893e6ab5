from django import forms

from procurement.forms import TextField
from procurement.validators import no_markup


class ApproveForm(forms.Form):
    comment = TextField(
        label="Comment",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )


class RejectForm(forms.Form):
    comment = TextField(
        label="Why do you reject it?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_markup],
        help_text="The requester reads this; the supplier never does.",
        error_messages={"required": "Say why: the requester needs it to revise the order."},
    )


class BudgetFilterForm(forms.Form):
    period = forms.ChoiceField(
        label="Period", choices=[("current", "Current periods"), ("all", "All periods")], required=False
    )
