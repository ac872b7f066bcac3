"""The one writer of the audit log, and the snapshots it stores."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from console.models import AuditEntry

if TYPE_CHECKING:
    from django.http import HttpRequest

# Never copied into the log, whatever model they sit on.
SECRET_FIELDS = frozenset({"password", "key", "secret", "token"})


def snapshot(instance: models.Model) -> dict[str, Any]:
    """Return the instance's field values as JSON-ready data, secrets left out."""
    data = model_to_dict(instance)
    for name, value in list(data.items()):
        if name in SECRET_FIELDS:
            del data[name]
        elif isinstance(value, list | tuple):
            # Many-to-many fields come back as model instances: keep their text.
            data[name] = sorted(str(item) for item in value)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    source: str = AuditEntry.Source.CONSOLE,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry: `actor` did `action` to `target`, changing `before` into `after`."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    if target is not None:
        target_type = target._meta.label_lower
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        source=source,
        target_type=target_type,
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        before=before,
        after=after,
        remote_addr=request.META.get("REMOTE_ADDR") if request is not None else None,
    )
