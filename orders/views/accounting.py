"""The organization's accounting codes: cost centers and GL accounts."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import OrgView, PostOnlyView

from .. import selectors
from ..forms import AccountingCodeForm
from ..services.accounting import ACCOUNTING_MODELS, save_accounting_code, set_accounting_code_active


class AccountingCodesView(OrgView):
    """Settings: the cost centers and GL accounts that order lines are coded with."""

    permission = "accounts.change_organization"
    template_name = "orders/accounting.html"

    def show(self, forms=None, status=200):
        forms = forms or {}
        return render(
            self.request,
            self.template_name,
            {
                "sections": [
                    {
                        "kind": kind,
                        "title": title,
                        "codes": selectors.accounting_codes_of(self.org, kind),
                        "form": forms.get(kind) or AccountingCodeForm(prefix=kind),
                    }
                    for kind, title in (("cost-centers", "Cost centers"), ("gl-accounts", "GL accounts"))
                ],
            },
            status=status,
        )

    def get(self, request, org_slug):
        return self.show()

    def post(self, request, org_slug):
        kind = request.POST.get("kind")
        if kind not in ACCOUNTING_MODELS:
            return self.show(status=400)
        form = AccountingCodeForm(request.POST, prefix=kind)
        if form.is_valid():
            try:
                obj = save_accounting_code(by=self.membership, kind=kind, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"{obj} added.")
                return redirect(self.org_url("orders:accounting"))
        return self.show({kind: form}, status=400)


class AccountingCodeToggleView(PostOnlyView):
    permission = "accounts.change_organization"

    def get_object(self):
        return selectors.accounting_code_for(organization=self.org, kind=self.kwargs["kind"], pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("orders:accounting")

    def post(self, request, org_slug, kind, pk):
        obj = self.get_object()
        set_accounting_code_active(by=self.membership, obj=obj, active=not obj.is_active)
        messages.success(request, f"{obj} is {'inactive' if obj.is_active else 'active'}.")
        return redirect(self.done_url())
