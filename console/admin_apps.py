from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """Django's admin, on a site that checks our roles and audits every change."""

    default_site = "console.admin_site.ConsoleAdminSite"
