import re

from django.core.exceptions import ValidationError

_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]")


def no_markup(value: str) -> None:
    """Plain-text fields refuse HTML: it would show as code to the other side anyway."""
    if value and _MARKUP.search(value):
        raise ValidationError("Use plain text here: HTML tags such as <b> are not allowed.", code="markup")
