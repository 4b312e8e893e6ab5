"""Helpers shared by the forms of every app."""

from __future__ import annotations

from django import forms

from procurement.errors import DomainError


def add_domain_error(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal next to the field it is about (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
