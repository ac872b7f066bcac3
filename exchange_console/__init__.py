"""Exchange Console: a crypto exchange's matching engine and everything around its outages."""

from exchange_console.celery import app as celery_app

__all__ = ["celery_app"]
