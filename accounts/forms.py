from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.urls import reverse

from procurement.forms import IntegerField, ModelForm, TextField
from procurement.money import CURRENCY_CHOICES
from procurement.validators import no_markup

from .mail import absolute_url, queue_email
from .models import Location, Organization, SupplierTolerance, TolerancePolicy, Tolerances
from .roles import BUYING_ROLES, ROLE_HELP, SELLING_ROLES, Role
from .services import new_user_problems


def role_choices(organization: Organization) -> list[tuple[str, str]]:
    """The roles that make sense in the organization (no selling roles where it only buys)."""
    return [
        (r.value, f"{r.label} — {ROLE_HELP[r]}")
        for r in Role
        if (organization.buys or r not in BUYING_ROLES) and (organization.sells or r not in SELLING_ROLES)
    ]


def require_a_capability(form: forms.BaseForm, data: dict) -> dict:
    if not data.get("buys") and not data.get("sells"):
        form.add_error("buys", "An organization buys, sells, or both: tick at least one.")
    return data


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match an account. Passwords are case-sensitive; "
        "after 5 failed tries, log-in from your network pauses for 15 minutes.",
    }
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class UserFields(forms.Form):
    full_name = forms.CharField(
        label="Your name",
        max_length=150,
        validators=[no_markup],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(label="Work e-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not only digits, not a common password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        """Report every problem in one round, the service's own checks included."""
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        problems = new_user_problems(
            email=data.get("email") or "",
            password=data.get("password1") or "",
            full_name=data.get("full_name") or "",
        )
        for field, message in problems.items():
            if field not in self.errors:
                self.add_error(field, message)
        return data


class OrganizationFields(forms.Form):
    organization_name = forms.CharField(label="Organization name", max_length=120, validators=[no_markup])
    base_currency = forms.ChoiceField(label="Base currency", choices=CURRENCY_CHOICES, initial="USD")
    buys = forms.BooleanField(label="We buy (raise purchase orders)", required=False, initial=True)
    sells = forms.BooleanField(label="We sell (publish listings, receive orders)", required=False)

    def clean(self):
        return require_a_capability(self, super().clean())


class SignUpForm(UserFields, OrganizationFields):
    field_order = [
        "full_name",
        "email",
        "password1",
        "password2",
        "organization_name",
        "base_currency",
        "buys",
        "sells",
    ]


class JoinForm(UserFields):
    """Sign-up through an invitation to join an organization: no organization of one's own."""


class CreateOrganizationForm(OrganizationFields):
    pass


class OrganizationSettingsForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = Organization
        fields = [
            "name",
            "base_currency",
            "notification_email",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "region",
            "country",
            "buys",
            "sells",
        ]

    def clean(self):
        return require_a_capability(self, super().clean())


class MemberRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(label="Roles", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(organization)


class InviteMemberForm(MemberRolesForm):
    email = forms.EmailField(label="E-mail")
    field_order = ["email", "roles"]


class LocationForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = Location
        fields = [
            "name",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "region",
            "country",
            "is_default",
        ]

    def validate_unique(self):
        """The service checks uniqueness within the organization (the form has no organization)."""


class ConnectionTermsForm(forms.Form):
    currency = forms.ChoiceField(
        label="Currency", choices=[("", "The supplier's currency")] + CURRENCY_CHOICES, required=False
    )
    payment_terms_days = IntegerField(label="Payment terms (net days)", min_value=0, max_value=365, initial=30)
    ship_to = forms.ModelChoiceField(
        label="Default ship-to", queryset=Location.objects.none(), required=False, empty_label="(none)"
    )

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        # Tenant-filtered: a location of another organization is a validation error.
        self.fields["ship_to"].queryset = locations


class InviteSupplierForm(ConnectionTermsForm):
    email = forms.EmailField(label="Supplier's e-mail", help_text="Someone who can accept for the supplier.")
    message = TextField(
        label="Message",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_markup],
    )
    field_order = ["email", "currency", "payment_terms_days", "ship_to", "message"]


class SuspendForm(forms.Form):
    reason = TextField(
        label="Reason",
        help_text="Shown to the other side.",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )


class AcceptConnectionForm(forms.Form):
    organization = forms.ChoiceField(label="Accept for")

    def __init__(self, *args, memberships, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [(m.organization.slug, m.organization.name) for m in memberships]


class DeclineConnectionForm(forms.Form):
    reason = TextField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )


class OutboxPasswordResetForm(PasswordResetForm):
    """Password-reset e-mails go through the outbox and Celery like every other e-mail."""

    email = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        queue_email(
            key=f"password-reset:{user.pk}:{context['token']}",
            to=[to_email],
            template="password_reset",
            context={
                "user": user,
                "url": absolute_url(
                    reverse(
                        "accounts:password-reset-confirm",
                        kwargs={"uidb64": context["uid"], "token": context["token"]},
                    )
                ),
            },
        )


class TolerancePolicyForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = TolerancePolicy
        fields = list(Tolerances.FIELDS)


class SupplierToleranceForm(ModelForm):
    supplier = forms.TypedChoiceField(label="Supplier", coerce=int)

    class Meta(ModelForm.Meta):
        model = SupplierTolerance
        fields = [*Tolerances.FIELDS, "reason"]  # the supplier is chosen among ours, not a model choice
        widgets = {"reason": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"reason": "Required: it is kept with the override."}

    def __init__(self, *args, suppliers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].choices = [("", "Choose a supplier"), *suppliers]  # (id, name) pairs
        self.order_fields(["supplier"])
