"""The input rules of the pages (``procurement.forms``) in every Django admin form (a kernel module)."""

from __future__ import annotations

from procurement.forms import number_kwargs, with_input_rules


class InputRulesMixin:
    """Every field of an admin form follows the input rules of the pages (``procurement.forms``):
    plain text, numbers of ASCII digits within their column, business dates in their window.
    The site mixes it into every model admin registered with it and into their inlines."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **{**number_kwargs(db_field), **kwargs})
        return with_input_rules(field) if field is not None else None


def with_input_rules_class(cls: type, **attrs) -> type:
    """A subclass of ``cls`` (a model admin or an inline) with ``InputRulesMixin`` (and ``attrs``);
    ``cls`` itself when it has the mixin and there is nothing to set."""
    if issubclass(cls, InputRulesMixin) and not attrs:
        return cls
    bases = (cls,) if issubclass(cls, InputRulesMixin) else (InputRulesMixin, cls)
    return type(cls.__name__, bases, {"__module__": cls.__module__, "__doc__": cls.__doc__, **attrs})
