from django.contrib.admin.apps import AdminConfig


class TandemAdminConfig(AdminConfig):
    """The Django admin with Tandem's site: organization admins see their own rows only."""

    default_site = "procurement.admin.TandemAdminSite"
