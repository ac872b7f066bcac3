"""The incident console pages: who may do what, declaring, the composer, filters, nothing unsafe or internal leaking."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from console.models import AuditEntry
from console.panels import panels_in, unregister_panel
from incidents import panels, services
from incidents.models import Component, ComponentGroup, ComponentStatus, Incident, IncidentUpdate, UpdateTemplate
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db

LIST, NEW = "/console/incidents/", "/console/incidents/new/"
LOGIN = "login"
EVERYONE = [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN]
READERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200}
COMMANDERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403, COMMANDER: 200, ADMIN: 200}
POSTERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 403, SUPPORT: 302, COMMANDER: 302, ADMIN: 302}
MANAGERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403, COMMANDER: 302, ADMIN: 302}
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)"> [click](javascript:alert(2))'


@pytest.fixture
def trading() -> Component:
    group = ComponentGroup.objects.create(name="Trading", position=0)
    return Component.objects.create(group=group, name="BTC-USD trading")


@pytest.fixture
def api() -> Component:
    group = ComponentGroup.objects.create(name="Platform", position=1)
    return Component.objects.create(group=group, name="REST API")


@pytest.fixture
def incident(commander, trading) -> Incident:
    return services.declare_incident(
        title="Orders to BTC-USD time out", by=commander, severity=Incident.Severity.SEV2,
        components={trading: ComponentStatus.PARTIAL_OUTAGE}, message="We are **investigating** timeouts.",
    )  # fmt: skip


@pytest.fixture
def draft(api) -> Incident:
    """What an alert rule opens: a draft by nobody in particular."""
    return services.declare_incident(
        title="p99 ack latency over 50 ms", by=None, severity=Incident.Severity.SEV2, draft=True,
        components={api: ComponentStatus.DEGRADED_PERFORMANCE},
    )  # fmt: skip


def page(incident: Incident, suffix: str = "") -> str:
    return f"/console/incidents/{incident.code}/{suffix}"


def expect(response, outcome) -> None:
    if outcome == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    else:
        assert response.status_code == outcome, response.content.decode()[:2000]


def post(persona, name: str, path: str, data: dict):
    return client_for(persona, name).post(path, data)


def html_of(response) -> str:
    return response.content.decode()


def ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


# -- the role matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVERYONE)
@pytest.mark.parametrize("suffix", ["", "live/", "timeline.md"])
def test_incident_pages_answer_each_persona_as_the_matrix_says(persona, incident, suffix, name):
    expect(client_for(persona, name).get(page(incident, suffix)), READERS[name])


@pytest.mark.parametrize("name", EVERYONE)
def test_the_list_is_for_console_users_and_declaring_for_commanders(persona, name):
    expect(client_for(persona, name).get(LIST), READERS[name])
    expect(client_for(persona, name).get(NEW), COMMANDERS[name])


@pytest.mark.parametrize("name", EVERYONE)
@pytest.mark.parametrize("kind", ["update", "note"])
def test_support_and_up_post_updates_and_notes(persona, incident, kind, name):
    response = post(persona, name, page(incident, "updates/"), {"kind": kind, "body": f"A {kind}.", "action": "x"})
    expect(response, POSTERS[name])
    posted = IncidentUpdate.objects.filter(incident=incident, body=f"A {kind}.", internal=kind == "note").exists()
    assert posted is (POSTERS[name] == 302)


COMMANDER_ACTIONS = {
    "severity/": ({"severity": "sev1"}, lambda incident: incident.severity == "sev1"),
    "roles/": ({"role": "commander", "user": ""}, lambda incident: incident.commander is None),
    "started/": ({"started_at": "2020-01-01T10:00"}, lambda incident: incident.started_at.year == 2020),
}


@pytest.mark.parametrize("name", EVERYONE)
@pytest.mark.parametrize("suffix", list(COMMANDER_ACTIONS))
def test_only_commanders_change_severity_roles_and_the_start(persona, incident, suffix, name):
    data, changed = COMMANDER_ACTIONS[suffix]
    expect(post(persona, name, page(incident, suffix), data), MANAGERS[name])
    assert changed(Incident.objects.get(pk=incident.pk)) is (MANAGERS[name] == 302)


@pytest.mark.parametrize("name", EVERYONE)
def test_only_commanders_publish_a_draft(persona, draft, name):
    expect(post(persona, name, page(draft, "publish/"), {}), MANAGERS[name])
    assert Incident.objects.get(pk=draft.pk).draft is (MANAGERS[name] != 302)


@pytest.mark.parametrize("change", [{"status": "resolved"}, {"severity": "sev1"}, {"visibility": "internal"}])
def test_support_cannot_carry_commander_changes_in_an_update_posted_by_hand(persona, incident, trading, change):
    response = post(persona, SUPPORT, page(incident, "updates/"), {"kind": "update", "body": "Fixed.", **change})
    assert response.status_code == 403
    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.status, fresh.severity, fresh.visibility) == ("investigating", "sev2", "public")
    assert not IncidentUpdate.objects.filter(body="Fixed.").exists()


def test_support_cannot_change_components_by_hand(persona, incident, trading):
    data = {"kind": "update", "body": "All good.", f"component_{trading.pk}": "operational"}
    assert post(persona, SUPPORT, page(incident, "updates/"), data).status_code == 403
    assert Component.objects.get(pk=trading.pk).status == ComponentStatus.PARTIAL_OUTAGE


def test_the_action_urls_take_no_get(persona, incident):
    for suffix in ("updates/", "severity/", "roles/", "started/", "publish/"):
        assert client_for(persona, COMMANDER).get(page(incident, suffix)).status_code == 405


def test_an_unknown_code_is_not_found(persona):
    assert client_for(persona, VIEWER).get("/console/incidents/INC-1999-0001/").status_code == 404


def test_viewers_see_no_composer_and_support_no_commander_controls(persona, incident):
    viewer_html = html_of(client_for(persona, VIEWER).get(page(incident)))
    assert 'id="composer-form"' not in viewer_html
    support_html = html_of(client_for(persona, SUPPORT).get(page(incident)))
    assert 'id="composer-form"' in support_html
    assert 'id="commander-fields"' not in support_html
    assert 'id="manage"' not in support_html
    commander_html = html_of(client_for(persona, COMMANDER).get(page(incident)))
    assert 'id="commander-fields"' in commander_html
    assert 'id="manage"' in commander_html


# -- declaring -----------------------------------------------------------------------------------------


def test_declaring_through_the_page_creates_the_incident_and_its_audit_entry(persona, trading, api):
    data = {"title": "Deposits stuck", "severity": "sev1", "visibility": "public", "message": "Looking into it.",
            "started_at": ago(minutes=30), f"component_{trading.pk}": "major_outage",
            f"component_{api.pk}": ""}  # fmt: skip
    client = client_for(persona, COMMANDER)
    response = client.post(NEW, data)
    incident = Incident.objects.get(title="Deposits stuck")
    assert response.status_code == 302
    assert response.url == page(incident)
    assert incident.commander == persona(COMMANDER)
    assert incident.severity == "sev1"
    assert timezone.now() - incident.started_at > timedelta(minutes=29)
    assert [(row.component, row.status) for row in incident.affected.all()] == [(trading, "major_outage")]
    assert incident.updates.get().body == "Looking into it."
    entry = AuditEntry.objects.get(action="incident.declared")
    assert entry.actor == persona(COMMANDER)
    assert f"{incident.code} declared." in html_of(client.get(response.url))


def test_the_declare_page_groups_the_components(persona, trading, api):
    html = html_of(client_for(persona, COMMANDER).get(NEW))
    assert (
        html.index("<legend>Trading</legend>") < html.index("BTC-USD trading") < html.index("<legend>Platform</legend>")
    )
    assert f'name="component_{api.pk}"' in html


@pytest.mark.parametrize(
    ("data", "message"),
    [({"title": ""}, "This field is required."),
     ({"title": "Late", "started_at": "2999-01-01T00:00"}, "An incident cannot start in the future.")],
)  # fmt: skip
def test_a_refused_declaration_comes_back_with_the_errors_and_creates_nothing(persona, data, message):
    response = post(persona, COMMANDER, NEW, {"severity": "sev3", "visibility": "public", **data})
    assert response.status_code == 400
    assert message in html_of(response)
    assert not Incident.objects.exists()


# -- the composer --------------------------------------------------------------------------------------


def test_a_commander_moves_status_components_and_severity_with_one_update(persona, incident, trading):
    data = {"kind": "update", "body": "Cause found: a stuck matcher.", "status": "identified", "severity": "sev1",
            f"component_{trading.pk}": "degraded_performance", "action": "publish"}  # fmt: skip
    response = post(persona, COMMANDER, page(incident, "updates/"), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.severity) == ("identified", "sev1")
    assert incident.acknowledged_at is not None
    update = incident.updates.filter(internal=False).first()
    assert (update.previous_status, update.status) == ("investigating", "identified")
    assert update.component_changes == [
        {"component": "BTC-USD trading", "previous": "partial_outage", "status": "degraded_performance"}
    ]
    html = html_of(client_for(persona, VIEWER).get(page(incident)))
    assert re.search(r"Investigating</span> → <span[^>]*>Identified", html)
    assert "BTC-USD trading: Partial outage → Degraded performance" in html


def test_the_composer_offers_only_the_moves_the_table_allows(persona, incident):
    html = html_of(client_for(persona, COMMANDER).get(page(incident)))
    status_select = html.split('name="status"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)"', status_select) == ["identified", "monitoring", "resolved"]


@pytest.mark.parametrize(
    ("status", "message"),
    [("monitoring", "cannot go from resolved to monitoring"),
     ("postmortem", "reaches post-mortem when its post-mortem is published"),
     ("exploded", "Select a valid choice")],
)  # fmt: skip
def test_an_illegal_move_posted_by_hand_comes_back_as_a_form_error_not_a_500(persona, incident, status, message):
    done = {"kind": "update", "body": "Fixed.", "status": "resolved", "action": "publish"}
    assert post(persona, COMMANDER, page(incident, "updates/"), done).status_code == 302
    data = {"kind": "update", "body": "Hm.", "status": status, "action": "publish"}
    response = post(persona, COMMANDER, page(incident, "updates/"), data)
    assert response.status_code == 400
    assert message in html_of(response)
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert not IncidentUpdate.objects.filter(body="Hm.").exists()


def test_a_refused_update_changes_nothing_it_carried(persona, incident):
    data = {"kind": "update", "body": " ", "severity": "sev1", "action": "publish"}
    response = post(persona, COMMANDER, page(incident, "updates/"), data)
    assert response.status_code == 400
    assert "Write what customers should know." in html_of(response)
    assert Incident.objects.get(pk=incident.pk).severity == "sev2"  # all or nothing


def test_the_preview_works_without_javascript_and_publishes_nothing(persona, incident):
    body = "Orders are **delayed**.\n\n<script>alert(1)</script>"
    response = post(persona, SUPPORT, page(incident, "updates/"), {"kind": "update", "body": body, "action": "preview"})
    html = html_of(response)
    assert response.status_code == 200
    preview = html.split('data-testid="preview">')[1].split("</div>")[0]
    assert "<p>Orders are <strong>delayed</strong>.</p>" in preview
    assert "<script>alert(1)" not in html
    assert "Orders are **delayed**." in html.split('name="body"')[1].split("</textarea>")[0]  # the form is kept
    assert incident.updates.count() == 1


def test_a_template_fills_the_composer_without_javascript(persona, incident):
    template = UpdateTemplate.objects.create(
        name="Cause found", status="identified", body="{code}: cause of {title} found."
    )
    html = html_of(client_for(persona, COMMANDER).get(page(incident), {"template": template.pk}))
    textarea = html.split('name="body"')[1].split("</textarea>")[0]
    assert f"{incident.code}: cause of Orders to BTC-USD time out found." in textarea
    assert '<option value="identified" selected>' in html.split('name="status"')[1].split("</select>")[0]
    assert f'<option value="{template.pk}" data-status="identified" selected>' in html


def test_an_incident_without_components_has_its_page_and_templates(persona, commander):
    bare = services.declare_incident(title="Something is off", by=commander)
    UpdateTemplate.objects.create(name="Where", body="Affected: {components}.")
    response = client_for(persona, SUPPORT).get(page(bare))
    assert response.status_code == 200
    assert "Affected: our services." in [item["body"] for item in response.context["config"]["templates"]]


def test_the_page_hands_its_scripts_the_filled_templates_and_addresses(persona, incident):
    template = UpdateTemplate.objects.create(name="Any status", body="Now {status}.")
    config = client_for(persona, SUPPORT).get(page(incident)).context["config"]
    filled = next(item for item in config["templates"] if item["id"] == template.pk)
    assert filled["bodies"]["resolved"] == "Now resolved."
    assert config["socket"] == f"/ws/incidents/{incident.code}/"
    assert config["preview"] == "/api/v1/markdown/preview/"
    assert config["fragment"] == page(incident, "live/")


# -- internal notes and unsafe input -----------------------------------------------------------------


def test_an_internal_note_is_labelled_and_never_lands_in_public_fields(persona, incident):
    data = {"kind": "note", "body": "Secret: the DB primary is degraded.", "action": "publish"}
    assert post(persona, SUPPORT, page(incident, "updates/"), data).status_code == 302
    note = IncidentUpdate.objects.get(body__startswith="Secret")
    assert note.internal
    assert note.status == ""
    assert note.component_changes == []
    html = html_of(client_for(persona, VIEWER).get(page(incident)))
    item = html.split(f'id="update-{note.pk}"')[1].split("</li>")[0]
    assert 'data-internal="true"' in html.split(f'id="update-{note.pk}"')[1][:40]
    assert "Internal note" in item
    assert "Secret" in item
    public = html.split('<li class="update"')[1:]
    assert public
    assert not any("Secret" in part.split("</li>")[0] for part in public)
    assert "Secret" not in html_of(client_for(persona, VIEWER).get(LIST))
    assert not IncidentUpdate.objects.filter(internal=False, body__contains="Secret").exists()


def test_a_note_cannot_carry_a_status_move(persona, incident):
    data = {"kind": "note", "body": "Resolving quietly.", "status": "resolved", "action": "publish"}
    response = post(persona, COMMANDER, page(incident, "updates/"), data)
    assert response.status_code == 400
    assert "An internal note cannot carry a status, component or other change" in html_of(response)
    assert Incident.objects.get(pk=incident.pk).status == "investigating"


def test_script_in_a_title_and_an_update_renders_inert(persona, trading):
    data = {"title": XSS[:60], "severity": "sev3", "visibility": "public", "message": XSS,
            f"component_{trading.pk}": "partial_outage"}  # fmt: skip
    response = post(persona, COMMANDER, NEW, data)
    incident = Incident.objects.get()
    post(persona, SUPPORT, page(incident, "updates/"), {"kind": "update", "body": XSS, "action": "publish"})
    for path in (response.url, LIST, page(incident, "live/")):
        html = html_of(client_for(persona, VIEWER).get(path))
        assert '<script>alert("x")' not in html
        assert not re.search(r"<img[^>]*onerror", html)
        assert 'href="javascript:' not in html
    assert "&lt;script&gt;" in html_of(client_for(persona, VIEWER).get(response.url))


# -- the commander's small actions ---------------------------------------------------------------------


def test_a_commander_changes_severity_and_it_lands_on_the_timeline(persona, incident):
    response = post(persona, COMMANDER, page(incident, "severity/"), {"severity": "sev1"})
    assert response.status_code == 302
    assert Incident.objects.get(pk=incident.pk).severity == "sev1"
    assert incident.timeline.filter(kind="severity_changed").exists()


def test_a_commander_hands_the_communications_lead_to_support_but_not_to_a_viewer(persona, incident, support, viewer):
    role = {"role": "communications_lead"}
    assert post(persona, COMMANDER, page(incident, "roles/"), {**role, "user": support.username}).status_code == 302
    assert Incident.objects.get(pk=incident.pk).communications_lead == support
    html = html_of(client_for(persona, COMMANDER).get(page(incident)))
    lead_form = html.split('id="role_communications_lead_user"')[1].split("</select>")[0]
    assert f'<option value="{support.username}" selected>' in lead_form  # each role's form starts at its holder
    response = post(persona, COMMANDER, page(incident, "roles/"), {**role, "user": viewer.username})
    assert response.status_code == 400
    assert "Select a valid choice" in html_of(response)
    assert Incident.objects.get(pk=incident.pk).communications_lead == support
    assert post(persona, COMMANDER, page(incident, "roles/"), {"role": "chef", "user": ""}).status_code == 400


def test_a_commander_sets_the_start_back_but_not_into_the_future(persona, incident):
    assert post(persona, COMMANDER, page(incident, "started/"), {"started_at": ago(hours=2)}).status_code == 302
    assert timezone.now() - Incident.objects.get(pk=incident.pk).started_at > timedelta(minutes=119)
    response = post(persona, COMMANDER, page(incident, "started/"), {"started_at": "2999-01-01T00:00"})
    assert response.status_code == 400
    assert "An incident cannot start in the future." in html_of(response)


def test_a_draft_is_marked_and_a_commander_publishes_it(persona, draft, api):
    viewer_html = html_of(client_for(persona, VIEWER).get(page(draft)))
    assert 'data-testid="draft-banner"' in viewer_html
    assert 'data-testid="publish-draft"' not in viewer_html
    assert 'data-testid="publish-draft"' in html_of(client_for(persona, COMMANDER).get(page(draft)))
    assert Component.objects.get(pk=api.pk).status == "operational"  # proposed only, while a draft
    response = client_for(persona, COMMANDER).post(page(draft, "publish/"), follow=True)
    assert f"{draft.code} published." in html_of(response)
    assert Component.objects.get(pk=api.pk).status == "degraded_performance"
    again = client_for(persona, COMMANDER).post(page(draft, "publish/"), follow=True)
    assert "is already published" in html_of(again)


def test_a_commander_may_start_a_post_mortem_on_a_resolved_incident(persona, incident):
    services.post_update(incident=incident, body="Fixed.", by=persona(COMMANDER), status="resolved")
    try:
        create = reverse("postmortems:create", args=[incident.code])
    except NoReverseMatch:
        create = None
    commander_html = html_of(client_for(persona, COMMANDER).get(page(incident)))
    assert ('data-testid="start-postmortem"' in commander_html) is (create is not None)
    if create:
        assert f'action="{create}"' in commander_html
    assert 'data-testid="start-postmortem"' not in html_of(client_for(persona, SUPPORT).get(page(incident)))


def test_once_a_post_mortem_exists_the_page_links_to_it(persona, incident):
    from incidents.postmortems.services import create_postmortem

    services.post_update(incident=incident, body="Fixed.", by=persona(COMMANDER), status="resolved")
    create_postmortem(incident=incident, by=persona(COMMANDER))
    html = html_of(client_for(persona, VIEWER).get(page(incident)))
    assert f'href="{reverse("postmortems:detail", args=[incident.code])}" data-testid="postmortem-link"' in html
    assert 'data-testid="start-postmortem"' not in html_of(client_for(persona, COMMANDER).get(page(incident)))


# -- the timeline and the live parts -------------------------------------------------------------------


def test_the_timeline_filters_by_kind_without_javascript(persona, incident):
    services.add_note(incident=incident, body="Paged the DB team.", by=persona(SUPPORT))
    html = html_of(client_for(persona, VIEWER).get(page(incident), {"kind": "note"}))
    timeline = html.split('data-testid="timeline">')[1].split("</ol>")[0]
    assert re.findall(r'data-kind="(\w+)"', timeline) == ["note"]
    everything = html_of(client_for(persona, VIEWER).get(page(incident)))
    kinds = re.findall(r'data-kind="(\w+)"', everything.split('data-testid="timeline">')[1].split("</ol>")[0])
    assert kinds == ["declared", "component_changed", "update", "note"]


def test_the_timeline_exports_as_markdown(persona, incident):
    response = client_for(persona, VIEWER).get(page(incident, "timeline.md"))
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode().startswith(f"# {incident.code}: Orders to BTC-USD time out")
    assert f'href="{page(incident, "timeline.md")}"' in html_of(client_for(persona, VIEWER).get(page(incident)))


def test_the_live_fragment_carries_the_new_updates_and_the_status(persona, incident):
    services.post_update(incident=incident, body="Monitoring the fix.", by=persona(COMMANDER), status="monitoring")
    html = html_of(client_for(persona, VIEWER).get(page(incident, "live/")))
    for part in ('id="incident-badges"', 'id="incident-summary"', 'id="incident-updates"'):
        assert part in html
    assert "<p>Monitoring the fix.</p>" in html
    assert 'data-testid="status">Monitoring<' in html
    assert "<html" not in html


def test_the_detail_page_shows_roles_timestamps_and_mtta_mttr(persona, incident):
    Incident.objects.filter(pk=incident.pk).update(detected_at=incident.started_at)
    services.post_update(incident=incident, body="Done.", by=persona(COMMANDER), status="resolved")
    Incident.objects.filter(pk=incident.pk).update(
        acknowledged_at=incident.started_at + timedelta(minutes=3), resolved_at=incident.started_at + timedelta(hours=2)
    )
    html = html_of(client_for(persona, VIEWER).get(page(incident)))
    assert 'data-testid="mtta">3 min 0 s<' in html
    assert 'data-testid="mttr">2 h 0 min<' in html
    assert f'data-testid="commander">{persona(COMMANDER).username}<' in html


# -- the list and its filters ------------------------------------------------------------------------


def codes(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<tr data-code="([^"]+)"', html_of(response))


@pytest.fixture
def several(persona, incident, draft, trading) -> dict[str, Incident]:
    """The open incident on trading, the alert's draft on the API, an old resolved internal one with an override."""
    old = services.declare_incident(
        title="Website slow", by=persona(COMMANDER), severity="sev4", visibility="internal",
        started_at=timezone.now() - timedelta(days=10),
    )  # fmt: skip
    services.post_update(incident=old, body="Fine again.", by=persona(COMMANDER), status="resolved")
    Incident.objects.filter(pk=old.pk).update(impact_override="minor")
    return {"open": incident, "draft": draft, "old": old}


@pytest.mark.parametrize(
    ("query", "expected"),
    [({}, ["draft", "open", "old"]), ({"status": "open"}, ["draft", "open"]), ({"status": "resolved"}, ["old"]),
     ({"severity": "sev2"}, ["draft", "open"]), ({"severity": "sev4"}, ["old"]),
     ({"impact": "major"}, ["open"]), ({"impact": "minor"}, ["draft", "old"]), ({"impact": "critical"}, []),
     ({"visibility": "internal"}, ["old"]), ({"draft": "yes"}, ["draft"]), ({"draft": "no"}, ["open", "old"]),
     ({"q": "btc-usd"}, ["open"]), ({"q": "website"}, ["old"])],
)  # fmt: skip
def test_the_list_filters(persona, several, query, expected):
    response = client_for(persona, VIEWER).get(LIST, query)
    assert sorted(codes(response)) == sorted(several[name].code for name in expected)


def test_the_list_filters_by_component_code_and_dates(persona, several, trading):
    viewer = client_for(persona, VIEWER)
    assert codes(viewer.get(LIST, {"component": trading.pk})) == [several["open"].code]
    assert codes(viewer.get(LIST, {"q": several["old"].code})) == [several["old"].code]
    today = timezone.now().date()
    assert several["old"].code not in codes(viewer.get(LIST, {"since": today.isoformat()}))
    assert codes(viewer.get(LIST, {"until": (today - timedelta(days=5)).isoformat()})) == [several["old"].code]


def test_the_list_marks_drafts_and_shows_figures(persona, several):
    html = html_of(client_for(persona, VIEWER).get(LIST))
    row = html.split(f'data-code="{several["draft"].code}"')[1].split("</tr>")[0]
    assert 'data-testid="draft">Draft<' in row
    old = html.split(f'data-code="{several["old"].code}"')[1].split("</tr>")[0]
    assert "10 d 0 h" in old  # duration: from the start, ten days back, to the resolution now


def test_bad_filters_are_a_400_with_the_errors_not_a_500(persona, several):
    response = client_for(persona, VIEWER).get(LIST, {"severity": "sev9", "since": "yesterday"})
    assert response.status_code == 400
    assert "Select a valid choice" in html_of(response)


def test_the_list_pages_and_keeps_its_filters(persona, commander):
    for number in range(27):
        services.declare_incident(title=f"Blip {number}", by=commander, severity="sev4")
    first = client_for(persona, VIEWER).get(LIST, {"severity": "sev4"})
    assert len(codes(first)) == 25
    assert "?severity=sev4&amp;page=2" in html_of(first)
    assert len(codes(client_for(persona, VIEWER).get(LIST, {"severity": "sev4", "page": 2}))) == 2


# -- the dashboard panel -------------------------------------------------------------------------------


def test_the_dashboard_panel_lists_open_incidents_and_marks_drafts(persona, several):
    registered_before = [panel for panel in panels_in("incidents") if panel.template_name == panels.TEMPLATE]
    panel = panels.register()
    try:
        assert panels.register() is panel  # once, however often ready() runs
        assert [p for p in panels_in("incidents") if p.template_name == panels.TEMPLATE] == [panel]
        html = html_of(client_for(persona, VIEWER).get("/console/"))
    finally:
        if not registered_before:  # leave the app's own registration in place
            unregister_panel(panel)
    section = html.split('data-slot="incidents"')[1].split("</section>")[0]
    assert several["open"].code in section
    assert several["draft"].code in section
    assert several["old"].code not in section
    assert 'data-testid="draft">Draft<' in section
