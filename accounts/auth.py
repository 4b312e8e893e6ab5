def axes_username(request, credentials) -> str:
    """Axes counts failures per (e-mail, IP); the e-mail is case-folded so that
    ``Ann@x`` and ``ann@x`` are one account, as they are at log-in."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return raw.strip().lower()
