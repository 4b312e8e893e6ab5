"""Thin views: parse a form, call one service, turn a refusal into a form error, redirect."""

from __future__ import annotations

import copy

from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import OrgView, PostOnlyView

from . import selectors, services
from .forms import (
    AcceptConnectionForm,
    ConnectionTermsForm,
    CreateOrganizationForm,
    DeclineConnectionForm,
    InviteMemberForm,
    InviteSupplierForm,
    JoinForm,
    LocationForm,
    LoginForm,
    MemberRolesForm,
    OrganizationSettingsForm,
    OutboxPasswordResetForm,
    SignUpForm,
    SupplierToleranceForm,
    SuspendForm,
    TolerancePolicyForm,
)
from .middleware import SESSION_KEY
from .models import Connection
from .permissions import can
from .roles import Role

public = method_decorator(login_not_required, name="dispatch")


def _next_url(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


# ------------------------------------------------------------------------------ sign-up etc.


@public
class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@public
class SignUpView(View):
    template_name = "accounts/signup.html"

    def get(self, request):
        if request.user.is_authenticated:
            return redirect("home")
        initial = {"email": request.GET.get("email", ""), "sells": request.GET.get("sells") == "1"}
        if initial["sells"]:
            initial["buys"] = False
        return render(
            request, self.template_name, {"form": SignUpForm(initial=initial), "next": _next_url(request, "")}
        )

    def post(self, request):
        form = SignUpForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                membership = services.sign_up(
                    email=data["email"],
                    password=data["password1"],
                    full_name=data["full_name"],
                    organization_name=data["organization_name"],
                    base_currency=data["base_currency"],
                    buys=data["buys"],
                    sells=data["sells"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome to Tandem. {membership.organization.name} is ready.")
                return redirect(_next_url(request, membership.organization.get_absolute_url()))
        return render(request, self.template_name, {"form": form, "next": _next_url(request, "")})


class HomeRedirectView(View):
    """``/``: the last organization used, the only one, or a choice."""

    def get(self, request):
        memberships = list(selectors.memberships_of(request.user))
        last = request.session.get(SESSION_KEY)
        for membership in memberships:
            if membership.organization.slug == last:
                return redirect(membership.organization.get_absolute_url())
        if len(memberships) == 1:
            return redirect(memberships[0].organization.get_absolute_url())
        waiting = selectors.invitations_waiting_for(request.user)
        return render(request, "accounts/choose_organization.html", {"memberships": memberships, "waiting": waiting})


class CreateOrganizationView(View):
    template_name = "accounts/organization_new.html"

    def get(self, request):
        initial = {"sells": request.GET.get("sells") == "1"}
        if initial["sells"]:
            initial["buys"] = False
        return render(
            request,
            self.template_name,
            {"form": CreateOrganizationForm(initial=initial), "next": _next_url(request, "")},
        )

    def post(self, request):
        form = CreateOrganizationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                membership = services.create_organization(
                    user=request.user,
                    name=data["organization_name"],
                    base_currency=data["base_currency"],
                    buys=data["buys"],
                    sells=data["sells"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"{membership.organization.name} is ready; you are its admin.")
                return redirect(_next_url(request, membership.organization.get_absolute_url()))
        return render(request, self.template_name, {"form": form, "next": _next_url(request, "")})


@public
class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-done")


@public
class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


@public
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        # Proving ownership of the address lifts a lock-out from failed log-ins.
        axes_reset(username=form.user.email)
        return super().form_valid(form)


@public
class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        messages.success(self.request, "Your password has been changed.")
        return super().form_valid(form)


# ---------------------------------------------------------------------------- organization


class OrganizationSettingsView(OrgView):
    permission = "accounts.change_organization"
    template_name = "accounts/settings.html"

    def get(self, request, org_slug):
        return self.show(OrganizationSettingsForm(instance=self.org))

    def show(self, form):
        address = self.org.notification_email
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "locations": selectors.locations_of(self.org),
                "notification_bounce": selectors.email_suppressions_for([address]).get(address.lower()),
            },
        )

    def post(self, request, org_slug):
        # A copy: an invalid form must not rename the organization in the page's header.
        form = OrganizationSettingsForm(request.POST, instance=copy.copy(self.org))
        if form.is_valid():
            try:
                services.update_organization(by=self.membership, **{f: form.cleaned_data[f] for f in form.fields})
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect(self.org_url("accounts:settings"))
        return self.show(form)


class TolerancesView(OrgView):
    """The tolerance policy (SPEC §6) and its per-supplier overrides, with their record."""

    permission = "accounts.change_organization"
    template_name = "accounts/tolerances.html"

    def suppliers(self):
        return (
            selectors.suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name")
        )

    def show(self, policy_form=None, override_form=None, status=200):
        policy = selectors.tolerances_for(customer_id=self.org.pk)
        overrides = list(selectors.supplier_tolerances_of(self.org))
        return render(
            self.request,
            self.template_name,
            {
                "policy_form": policy_form or TolerancePolicyForm(instance=policy, prefix="policy"),
                "override_form": override_form
                or SupplierToleranceForm(prefix="override", suppliers=self.suppliers(), initial=policy.values()),
                "current": [o for o in overrides if o.ended_at is None],
                "ended": [o for o in overrides if o.ended_at is not None],
            },
            status=status,
        )

    def get(self, request, org_slug):
        return self.show()

    def post(self, request, org_slug):
        if "override-supplier" in request.POST:
            form = SupplierToleranceForm(request.POST, prefix="override", suppliers=self.suppliers())
            if form.is_valid():
                data = dict(form.cleaned_data)
                supplier = selectors.connected_supplier(customer=self.org, supplier_id=data.pop("supplier"))
                try:
                    services.set_supplier_tolerance(by=self.membership, supplier=supplier, **data)
                except DomainError as exc:
                    add_domain_error(form, exc)
                else:
                    messages.success(request, f"Tolerances for {supplier.name} saved.")
                    return redirect(self.org_url("accounts:tolerances"))
            return self.show(override_form=form, status=400)
        form = TolerancePolicyForm(request.POST, prefix="policy")
        if form.is_valid():
            try:
                services.update_tolerance_policy(by=self.membership, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Tolerance policy saved.")
                return redirect(self.org_url("accounts:tolerances"))
        return self.show(policy_form=form, status=400)


class SupplierToleranceEndView(PostOnlyView):
    permission = "accounts.change_organization"

    def get_object(self):
        return selectors.supplier_tolerance_for(organization=self.org, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("accounts:tolerances")

    def post(self, request, org_slug, pk):
        override = self.get_object()
        try:
            services.end_supplier_tolerance(by=self.membership, override=override)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{override.supplier.name} follows the policy again.")
        return redirect(self.done_url())


class LocationEditView(OrgView):
    permission = "accounts.change_organization"
    template_name = "accounts/location_form.html"

    def get_location(self):
        pk = self.kwargs.get("pk")
        return selectors.location_for(organization=self.org, pk=pk) if pk else None

    def get(self, request, org_slug, pk=None):
        location = self.get_location()
        return render(request, self.template_name, {"form": LocationForm(instance=location), "location": location})

    def post(self, request, org_slug, pk=None):
        location = self.get_location()
        form = LocationForm(request.POST, instance=location)
        if form.is_valid():
            try:
                services.save_location(by=self.membership, location=location, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Location saved.")
                return redirect(self.org_url("accounts:settings"))
        return render(request, self.template_name, {"form": form, "location": location})


# --------------------------------------------------------------------------------- members


class MembersView(OrgView):
    permission = "accounts.manage_members"
    template_name = "accounts/members.html"

    def render_page(self, form):
        members = list(selectors.members_of(self.org))
        bounces = selectors.email_suppressions_for([m.user.email for m in members])
        return render(
            self.request,
            self.template_name,
            {
                # (membership, its address's bounce or complaint or None)
                "members": [(m, bounces.get(m.user.email.lower())) for m in members],
                "invitations": selectors.open_invitations_of(self.org),
                "form": form,
            },
        )

    def get(self, request, org_slug):
        return self.render_page(InviteMemberForm(organization=self.org))

    def post(self, request, org_slug):
        form = InviteMemberForm(request.POST, organization=self.org)
        if form.is_valid():
            try:
                invitation = services.invite_member(
                    by=self.membership, email=form.cleaned_data["email"], roles=form.cleaned_data["roles"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect(self.org_url("accounts:members"))
        return self.render_page(form)


class MemberEditView(OrgView):
    permission = "accounts.manage_members"
    template_name = "accounts/member_edit.html"

    def get(self, request, org_slug, pk):
        member = selectors.member_for(organization=self.org, pk=pk)
        return render(
            request,
            self.template_name,
            {
                "member": member,
                "form": MemberRolesForm(initial={"roles": member.roles}, organization=self.org),
            },
        )

    def post(self, request, org_slug, pk):
        member = selectors.member_for(organization=self.org, pk=pk)
        form = MemberRolesForm(request.POST, organization=self.org)
        if form.is_valid():
            try:
                services.change_member_roles(by=self.membership, member=member, roles=form.cleaned_data["roles"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Roles of {member.user} saved.")
                return redirect(self.org_url("accounts:members"))
        return render(request, self.template_name, {"member": member, "form": form})


class MemberRemoveView(OrgView):
    permission = "accounts.manage_members"

    def get(self, request, org_slug, pk):
        member = selectors.member_for(organization=self.org, pk=pk)
        return render(request, "accounts/member_remove.html", {"member": member})

    def post(self, request, org_slug, pk):
        member = selectors.member_for(organization=self.org, pk=pk)
        try:
            services.remove_member(by=self.membership, member=member)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{member.user} is no longer a member of {self.org.name}.")
            if member.pk == self.membership.pk:
                return redirect("home")
        return redirect(self.org_url("accounts:members"))


class MemberInvitationRevokeView(PostOnlyView):
    permission = "accounts.manage_members"

    def get_object(self):
        return selectors.member_invitation_for(organization=self.org, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("accounts:members")

    def post(self, request, org_slug, pk):
        invitation = self.get_object()
        try:
            services.revoke_member_invitation(by=self.membership, invitation=invitation)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The invitation of {invitation.email} is withdrawn.")
        return redirect(self.done_url())


@public
class MemberInvitationView(View):
    """An invitation to join: by its secret link (``token``) or from the inbox (``pk``)."""

    template_name = "accounts/member_invitation.html"

    def get_invitation(self):
        return selectors.member_invitation_by(
            user=self.request.user, token=self.kwargs.get("token", ""), pk=self.kwargs.get("pk")
        )

    def get(self, request, token="", pk=None):
        invitation = self.get_invitation()
        form = None if request.user.is_authenticated else JoinForm(initial={"email": invitation.email})
        if form is not None:
            form.fields["email"].widget.attrs["readonly"] = True  # the invitation is for this address
        return render(request, self.template_name, {"invitation": invitation, "form": form})

    def post(self, request, token="", pk=None):
        invitation = self.get_invitation()
        form = None
        user = request.user
        if not user.is_authenticated:
            form = JoinForm(request.POST)
            if not form.is_valid():
                return render(request, self.template_name, {"invitation": invitation, "form": form})
            if form.cleaned_data["email"].lower() != invitation.email.lower():
                form.add_error("email", f"This invitation is for {invitation.email}.")
                return render(request, self.template_name, {"invitation": invitation, "form": form})
            try:
                user = services.sign_up_user(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password1"],
                    full_name=form.cleaned_data["full_name"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                return render(request, self.template_name, {"invitation": invitation, "form": form})
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            membership = services.accept_member_invitation(invitation=invitation, user=user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return render(request, self.template_name, {"invitation": invitation, "form": form})
        messages.success(request, f"You are now a member of {membership.organization.name}.")
        return redirect(membership.organization.get_absolute_url())


# ----------------------------------------------------------------------------- connections


class ConnectionListView(OrgView):
    template_name = "accounts/connections.html"

    def get(self, request, org_slug):
        connections = list(selectors.connections_for(self.org))
        return render(
            request,
            self.template_name,
            {
                "as_customer": [c for c in connections if c.customer_id == self.org.pk],
                "as_supplier": [c for c in connections if c.supplier_id == self.org.pk],
            },
        )


class ConnectionInviteView(OrgView):
    permission = "accounts.manage_connections"
    template_name = "accounts/connection_invite.html"

    def get_form(self, data=None):
        form = InviteSupplierForm(data, locations=selectors.locations_of(self.org))
        if data is None:
            form.initial["ship_to"] = selectors.locations_of(self.org).filter(is_default=True).first()
        return form

    def get(self, request, org_slug):
        if not self.org.buys:
            messages.error(
                request,
                f"{self.org.name} does not buy: turn on buying in the settings to connect to suppliers.",
            )
            return redirect(self.org_url("accounts:connections"))
        return render(request, self.template_name, {"form": self.get_form()})

    def post(self, request, org_slug):
        form = self.get_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                connection = services.invite_supplier(
                    by=self.membership,
                    email=data["email"],
                    currency=data["currency"],
                    payment_terms_days=data["payment_terms_days"],
                    ship_to=data["ship_to"],
                    message=data["message"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Invitation sent to {connection.invite_email}.")
                return redirect(self.org_url("accounts:connection-detail", pk=connection.pk))
        return render(request, self.template_name, {"form": form})


def connection_actions(connection: Connection, membership) -> set[str]:
    """What this member may do to the connection now: the FSM's available transitions,
    narrowed by the side rules the services enforce too."""
    if not can(membership, "accounts.manage_connections"):
        return set()
    org_id = membership.organization_id
    rules = {
        "suspend": True,
        "reactivate": connection.suspended_by_id == org_id,
        "revoke": connection.customer_id == org_id,
    }
    return {t.name for t in connection.get_available_status_transitions() if rules.get(t.name)}


def render_connection(request, connection, *, terms_form=None, suspend_form=None):
    org, membership = request.organization, request.membership
    is_customer = connection.customer_id == org.pk
    if terms_form is None and is_customer:
        terms_form = ConnectionTermsForm(
            locations=selectors.locations_of(org),
            initial={
                "currency": connection.currency,
                "payment_terms_days": connection.payment_terms_days,
                "ship_to": connection.ship_to_id,
            },
        )
    return render(
        request,
        "accounts/connection_detail.html",
        {
            "connection": connection,
            "is_customer": is_customer,
            "counterparty": connection.counterparty(org),
            "events": connection.events.select_related("actor", "organization")[:50],
            "terms_form": terms_form,
            "suspend_form": suspend_form or SuspendForm(),
            "may_manage": can(membership, "accounts.manage_connections"),
            "actions": connection_actions(connection, membership),
        },
    )


class ConnectionDetailView(OrgView):
    def get(self, request, org_slug, pk):
        return render_connection(request, selectors.connection_for(organization=self.org, pk=pk))

    def post(self, request, org_slug, pk):
        """Saves the customer's terms."""
        connection = selectors.connection_for(organization=self.org, pk=pk)
        if not can(self.membership, "accounts.manage_connections"):
            raise PermissionDenied
        form = ConnectionTermsForm(request.POST, locations=selectors.locations_of(self.org))
        if form.is_valid():
            try:
                services.update_connection_terms(by=self.membership, connection=connection, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Terms saved.")
                return redirect(self.org_url("accounts:connection-detail", pk=pk))
        return render_connection(request, connection, terms_form=form)


class ConnectionActionView(PostOnlyView):
    """POST-only actions on a connection: suspend, reactivate, withdraw the invitation."""

    permission = "accounts.manage_connections"
    action: str = ""
    done = {"suspend": "suspended", "reactivate": "reactivated", "revoke": "withdrawn"}

    def get_object(self):
        return selectors.connection_for(organization=self.org, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("accounts:connection-detail", pk=self.kwargs["pk"])

    def post(self, request, org_slug, pk):
        connection = self.get_object()
        try:
            if self.action == "suspend":
                form = SuspendForm(request.POST)
                if not form.is_valid():
                    return render_connection(request, connection, suspend_form=form)
                services.suspend_connection(
                    by=self.membership, connection=connection, reason=form.cleaned_data["reason"]
                )
            elif self.action == "reactivate":
                services.reactivate_connection(by=self.membership, connection=connection)
            else:
                services.revoke_connection_invitation(by=self.membership, connection=connection)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The connection is {self.done[self.action]}.")
        return redirect(self.done_url())


@public
class ConnectionInvitationView(View):
    """A supplier's view of an invitation to connect: accept for one of its organizations,
    sign up a new one, or decline. Reached by the secret link or, for the invited address,
    from the inbox."""

    template_name = "accounts/connection_invitation.html"

    def get_connection(self):
        return selectors.connection_invitation_for(
            user=self.request.user, token=self.kwargs.get("token", ""), pk=self.kwargs.get("pk")
        )

    def admin_memberships(self):
        if not self.request.user.is_authenticated:
            return []
        return [m for m in selectors.memberships_of(self.request.user) if Role.ADMIN in m.roles]

    def render_page(self, connection, accept_form=None, decline_form=None):
        memberships = self.admin_memberships()
        selling = [m for m in memberships if m.organization.sells and m.organization_id != connection.customer_id]
        return render(
            self.request,
            self.template_name,
            {
                "connection": connection,
                "accept_form": accept_form or AcceptConnectionForm(memberships=selling),
                "decline_form": decline_form or DeclineConnectionForm(),
                "selling_memberships": selling,
                "non_selling_memberships": [m for m in memberships if not m.organization.sells],
                "here": self.request.get_full_path(),
            },
        )

    def get(self, request, token="", pk=None):
        return self.render_page(self.get_connection())

    def post(self, request, token="", pk=None):
        connection = self.get_connection()
        if not request.user.is_authenticated:
            return redirect(f"{reverse('accounts:login')}?next={request.path}")
        if request.POST.get("action") == "decline":
            form = DeclineConnectionForm(request.POST)
            if not form.is_valid():
                return self.render_page(connection, decline_form=form)
            try:
                services.decline_connection(
                    connection=connection, user=request.user, token=token, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"You declined the invitation of {connection.customer.name}.")
            return redirect("home")
        selling = [m for m in self.admin_memberships() if m.organization.sells]
        form = AcceptConnectionForm(request.POST, memberships=selling)
        if not form.is_valid():
            return self.render_page(connection, accept_form=form)
        membership = next(m for m in selling if m.organization.slug == form.cleaned_data["organization"])
        try:
            connection = services.accept_connection(connection=connection, by=membership, token=token)
        except DomainError as exc:
            add_domain_error(form, exc)
            return self.render_page(connection, accept_form=form)
        messages.success(request, f"{membership.organization.name} is now a supplier of {connection.customer.name}.")
        return HttpResponseRedirect(
            reverse(
                "accounts:connection-detail",
                kwargs={"org_slug": membership.organization.slug, "pk": connection.pk},
            )
        )


class AccountView(TemplateView):
    template_name = "accounts/account.html"


class MemberInvitationInboxView(MemberInvitationView):
    """The same page, from the inbox of the invited address: log-in required."""

    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)


class ConnectionInvitationInboxView(ConnectionInvitationView):
    """The same page, from the inbox of the invited address: log-in required."""

    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)
