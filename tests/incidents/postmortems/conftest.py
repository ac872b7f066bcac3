"""Fixtures of the post-mortem tests: a second commander, a resolved incident, its post-mortem."""

from __future__ import annotations

import pytest

from console.permissions import Role
from incidents import services as incident_services
from incidents.models import Component, Incident
from incidents.postmortems import services
from incidents.postmortems.models import Postmortem
from tests.conftest import make_persona


@pytest.fixture
def reviewer(db):
    """A commander who did not write the post-mortem: the one who may approve it."""
    return make_persona("rita-reviewer", Role.COMMANDER)


@pytest.fixture
def trading(db) -> Component:
    return Component.objects.create(name="BTC-USD trading")


def resolve(incident: Incident, by) -> Incident:
    incident_services.post_update(incident=incident, body="Fixed; all markets trade.", by=by, status="resolved")
    incident.refresh_from_db()
    return incident


@pytest.fixture
def incident(commander, trading) -> Incident:
    """A resolved incident with a few timeline entries, ready for its post-mortem."""
    found = incident_services.declare_incident(
        title="Orders time out", by=commander, severity="sev2", message="Investigating slow acknowledgements.",
        components={trading: "major_outage"},
    )  # fmt: skip
    incident_services.add_note(incident=found, body="Database team paged.", by=commander)
    return resolve(found, commander)


@pytest.fixture
def postmortem(incident, commander) -> Postmortem:
    return services.create_postmortem(incident=incident, by=commander)


def approved(postmortem: Postmortem, *, author, reviewer, summary: str = "A slow disk delayed orders.") -> Postmortem:
    """Take the post-mortem through review to approved, with a public summary written."""
    services.set_public_summary(postmortem=postmortem, body=summary, by=author)
    services.submit_for_review(postmortem=postmortem, by=author)
    services.approve(postmortem=postmortem, by=reviewer)
    postmortem.refresh_from_db()
    return postmortem
