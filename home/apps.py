from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The top floor: the pages and commands that read every app — the organization's home page
    (the inbox), the navigation's context, and the demo data (``seed_demo``, ``generate_data``).
    Nothing imports it (CONTRIBUTING.md, "Layers")."""

    name = "home"
    verbose_name = "Home and demo data"
