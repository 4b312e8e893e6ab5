from django.utils.functional import SimpleLazyObject

from .selectors import memberships_of


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
        # Evaluated only by the templates that show the organization switcher.
        "my_memberships": SimpleLazyObject(lambda: list(memberships_of(user))),
    }
