"""The post-mortem console pages: who may open and do what, the workflow through the pages, exports, filters."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.permissions import Role
from incidents.models import Incident
from incidents.postmortems import figures, services
from incidents.postmortems.models import ActionItem, Postmortem
from tests.conftest import make_persona
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for
from tests.incidents.postmortems.conftest import approved

pytestmark = pytest.mark.django_db

LIST, ACTION_ITEMS = "/console/postmortems/", "/console/postmortems/action-items/"
PERSONAS = [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN]
# Any address that leaves the console: absolute http(s) URLs and protocol-relative ones.
EXTERNAL_REFERENCE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def page_of(postmortem: Postmortem, tail: str = "") -> str:
    return f"/console/postmortems/{postmortem.incident.code}/{tail}"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def fresh(postmortem: Postmortem) -> Postmortem:
    return Postmortem.objects.select_related("incident").get(pk=postmortem.pk)


# -- who may open what ----------------------------------------------------------------------


READABLE = ["list", "detail", "markdown", "action_items"]


def path_for(kind: str, postmortem: Postmortem) -> str:
    return {"list": LIST, "action_items": ACTION_ITEMS, "detail": page_of(postmortem),
            "markdown": page_of(postmortem, "postmortem.md")}[kind]  # fmt: skip


@pytest.mark.parametrize("name", PERSONAS)
@pytest.mark.parametrize("kind", READABLE)
def test_every_page_answers_each_persona_as_the_role_matrix_says(persona, postmortem, kind, name):
    path = path_for(kind, postmortem)
    response = client_for(persona, name).get(path)
    if name == ANONYMOUS:
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={path}"
    elif name == OUTSIDER:
        assert response.status_code == 403
    else:
        assert response.status_code == 200


def test_an_unknown_incident_code_is_a_404(commander):
    assert logged_in(commander).get("/console/postmortems/INC-1999-0001/").status_code == 404


@pytest.mark.parametrize(("name", "expected"), [(OUTSIDER, 403), (VIEWER, 403), (SUPPORT, 403)])
def test_only_commanders_start_a_post_mortem(persona, incident, name, expected):
    response = client_for(persona, name).post(f"/console/postmortems/{incident.code}/create/")
    assert response.status_code == expected
    assert not Postmortem.objects.exists()


def test_an_anonymous_visitor_posting_is_sent_to_log_in(persona, incident):
    response = client_for(persona, ANONYMOUS).post(f"/console/postmortems/{incident.code}/create/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("name", [COMMANDER, ADMIN])
def test_a_commander_or_admin_starts_the_post_mortem_and_lands_on_it(persona, incident, name):
    response = client_for(persona, name).post(f"/console/postmortems/{incident.code}/create/")
    assert response.status_code == 302
    assert response.url == f"/console/postmortems/{incident.code}/"
    assert Postmortem.objects.get(incident=incident).sections.count() == 11


def test_starting_a_second_post_mortem_leads_to_the_first(postmortem, commander):
    response = logged_in(commander).post(page_of(postmortem, "create/"), follow=True)
    assert response.redirect_chain[-1][0] == page_of(postmortem)
    assert "already has a post-mortem" in html_of(response)
    assert Postmortem.objects.count() == 1


def test_an_open_incident_gets_no_post_mortem_and_the_reason_is_shown_on_its_page(commander):
    from incidents import services as incident_services

    incident = incident_services.declare_incident(title="Still burning", by=commander)
    response = logged_in(commander).post(f"/console/postmortems/{incident.code}/create/")
    assert response.status_code == 302
    assert response.url == f"/console/incidents/{incident.code}/"
    assert not Postmortem.objects.exists()


WRITES = {
    "section": ("sections/summary/", {"body": "Changed"}),
    "summary": ("public-summary/", {"body": "Changed"}),
    "window": ("window/", {"window_start": "2026-01-01T00:00", "window_end": "2026-01-01T01:00"}),
    "timeline": ("timeline/", {"at": "2026-01-01T00:00", "kind": "note", "summary": "Changed"}),
    "refresh": ("timeline/refresh/", {}),
    "item": ("action-items/", {"title": "Changed", "priority": "p2"}),
    "submit": ("submit/", {}),
}


@pytest.mark.parametrize("name", [VIEWER, SUPPORT])
@pytest.mark.parametrize("action", list(WRITES))
def test_viewers_and_support_are_refused_every_change_with_a_403(persona, postmortem, name, action):
    tail, data = WRITES[action]
    before = fresh(postmortem).updated_at
    response = client_for(persona, name).post(page_of(postmortem, tail), data)
    assert response.status_code == 403
    assert "Your role may not" in html_of(response)
    assert fresh(postmortem).updated_at == before
    assert not ActionItem.objects.exists()


@pytest.mark.parametrize("name", [VIEWER, SUPPORT])
def test_viewers_and_support_may_neither_approve_nor_publish(persona, postmortem, commander, reviewer, name):
    services.set_public_summary(postmortem=postmortem, body="Slow disk.", by=commander)
    services.submit_for_review(postmortem=postmortem, by=commander)
    client = client_for(persona, name)
    assert client.post(page_of(postmortem, "approve/")).status_code == 403
    services.approve(postmortem=postmortem, by=reviewer)
    assert client.post(page_of(postmortem, "publish/")).status_code == 403
    assert fresh(postmortem).status == Postmortem.Status.APPROVED


def test_a_viewer_reads_the_post_mortem_without_any_form(postmortem, viewer):
    html = html_of(logged_in(viewer).get(page_of(postmortem)))
    assert "Post-mortem: Orders time out" in html
    assert 'method="post"' not in html.split('id="main"')[1]  # (the log-out form sits in the top bar)
    assert "Submit for review" not in html
    assert "Commanders write post-mortems" in html


def test_the_pages_only_take_posts_for_changes(postmortem, commander):
    assert logged_in(commander).get(page_of(postmortem, "submit/")).status_code == 405


# -- the workflow through the pages ---------------------------------------------------------


def test_a_commander_writes_submits_and_another_approves_and_publishes_through_the_pages(
    postmortem, commander, reviewer
):
    # given the author's page: every section, the public summary and the timeline are editable
    author = logged_in(commander)
    html = html_of(author.get(page_of(postmortem)))
    assert html.count('action="/console/postmortems/') > 11
    assert 'id="section-summary-body"' in html

    # when the author writes, adds to the timeline and an action item, and submits
    done = author.post(page_of(postmortem, "sections/summary/"), {"body": "A **slow disk** delayed acks."})
    assert done.status_code == 302
    assert done.url == page_of(postmortem) + "#section-summary"
    author.post(page_of(postmortem, "public-summary/"), {"body": "Orders were slow for 20 minutes."})
    author.post(page_of(postmortem, "timeline/"), {"at": "2026-01-05T10:00", "kind": "note", "summary": "Disk swapped"})
    author.post(page_of(postmortem, "action-items/"), {"title": "Alert on disk latency", "priority": "p1",
                                                       "owner": reviewer.pk, "due_on": "2030-01-01"})  # fmt: skip
    assert author.post(page_of(postmortem, "submit/")).status_code == 302

    # then the page shows it in review, rendered, and the author may not approve it: the reason is shown
    html = html_of(author.get(page_of(postmortem)))
    assert 'data-testid="postmortem-status">In review<' in html
    assert "A <strong>slow disk</strong> delayed acks." in html
    assert "Disk swapped" in html
    assert "Alert on disk latency" in html
    assert "You wrote this post-mortem: another commander must approve it." in html
    assert '<button type="button" disabled aria-describedby="approve-refusal">Approve</button>' in html
    refused = author.post(page_of(postmortem, "approve/"))
    assert refused.status_code == 403
    assert "another commander must approve it" in html_of(refused)
    assert fresh(postmortem).status == Postmortem.Status.IN_REVIEW

    # when another commander approves, and the author publishes
    other = logged_in(reviewer)
    assert 'action="/console/postmortems/' + postmortem.incident.code + '/approve/"' in html_of(
        other.get(page_of(postmortem))
    )
    assert other.post(page_of(postmortem, "approve/")).status_code == 302
    assert author.post(page_of(postmortem, "publish/")).status_code == 302

    # then it is published, the incident is in post-mortem, and nothing is editable any more
    published = fresh(postmortem)
    assert published.status == Postmortem.Status.PUBLISHED
    assert published.approved_by == reviewer
    assert Incident.objects.get(pk=postmortem.incident_id).status == Incident.Status.POSTMORTEM
    html = html_of(author.get(page_of(postmortem)))
    assert 'id="section-summary-body"' not in html
    assert "the public summary is on the status page" in html


def test_a_reviewer_requests_changes_with_a_comment_the_author_then_reads(postmortem, commander, reviewer):
    services.submit_for_review(postmortem=postmortem, by=commander)
    other = logged_in(reviewer)

    empty = other.post(page_of(postmortem, "request-changes/"), {"comment": "   "})
    assert empty.status_code == 400
    assert fresh(postmortem).status == Postmortem.Status.IN_REVIEW

    response = other.post(page_of(postmortem, "request-changes/"), {"comment": "Say why the disk was slow."})
    assert response.status_code == 302
    assert fresh(postmortem).status == Postmortem.Status.DRAFT
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    assert 'data-testid="review-comment"' in html
    assert "Say why the disk was slow." in html


def test_publishing_without_a_public_summary_shows_why_on_the_page(postmortem, commander, reviewer):
    services.submit_for_review(postmortem=postmortem, by=commander)
    services.approve(postmortem=postmortem, by=reviewer)
    response = logged_in(commander).post(page_of(postmortem, "publish/"))
    assert response.status_code == 400
    assert 'data-testid="workflow-errors"' in html_of(response)
    assert "Write the public summary customers will read before publishing." in html_of(response)
    assert fresh(postmortem).status == Postmortem.Status.APPROVED


def test_a_window_ending_before_it_starts_is_shown_next_to_the_form(postmortem, commander):
    data = {"window_start": "2026-01-01T10:00", "window_end": "2026-01-01T09:00"}
    response = logged_in(commander).post(page_of(postmortem, "window/"), data)
    assert response.status_code == 400
    html = html_of(response)
    assert "The window must end after it starts." in html
    assert 'value="2026-01-01T09:00"' in html  # the form comes back as typed


def test_the_timeline_copy_is_edited_pruned_and_refreshed_from_the_incident(postmortem, commander, incident):
    from incidents import services as incident_services

    client = logged_in(commander)
    first = postmortem.timeline.first()
    data = {"at": "2026-01-05T09:59:30", "kind": "update", "summary": "First acknowledgement"}
    assert client.post(page_of(postmortem, f"timeline/{first.pk}/"), data).status_code == 302
    first.refresh_from_db()
    assert (first.summary, first.at.second) == ("First acknowledgement", 30)

    last = postmortem.timeline.last()
    assert client.post(page_of(postmortem, f"timeline/{last.pk}/remove/")).status_code == 302
    assert not postmortem.timeline.filter(pk=last.pk).exists()

    incident_services.add_note(incident=incident, body="Vendor confirmed the disk fault.", by=commander)
    response = client.post(page_of(postmortem, "timeline/refresh/"), follow=True)
    assert "1 new entry copied from the incident" in html_of(response)
    assert "Vendor confirmed the disk fault." in html_of(response)

    blank = client.post(page_of(postmortem, "timeline/"), {"at": "2026-01-05T10:00", "kind": "note", "summary": ""})
    assert blank.status_code == 400


def test_an_action_item_is_changed_by_a_commander_and_its_status_by_its_viewer_owner(postmortem, commander, viewer):
    item = services.add_action_item(postmortem=postmortem, title="Add disk alerts", by=commander)
    data = {"owner": viewer.pk, "due_on": "2030-02-01", "priority": "p1", "status": "in_progress",
            "link": "https://tracker.example/42"}  # fmt: skip
    assert logged_in(commander).post(page_of(postmortem, f"action-items/{item.pk}/"), data).status_code == 302
    item.refresh_from_db()
    assert (item.owner, item.priority, item.status) == (viewer, "p1", "in_progress")

    owner = logged_in(viewer)
    html = html_of(owner.get(page_of(postmortem)))
    assert f'id="item-{item.pk}-status"' in html
    assert f'id="item-{item.pk}-priority"' not in html
    assert owner.post(page_of(postmortem, f"action-items/{item.pk}/"), {"status": "done"}).status_code == 302
    item.refresh_from_db()
    assert item.status == "done"
    assert item.completed_at is not None


def test_someone_elses_action_item_is_refused_to_a_viewer(postmortem, commander, viewer):
    item = services.add_action_item(postmortem=postmortem, title="Add disk alerts", by=commander)
    response = logged_in(viewer).post(page_of(postmortem, f"action-items/{item.pk}/"), {"status": "done"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.status == "open"


# -- what the detail page shows ---------------------------------------------------------------


def test_the_page_shows_the_key_figures_and_hands_the_charts_their_window(postmortem, commander):
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    found = figures.key_figures(postmortem)
    for key, label in figures.FIGURE_LABELS.items():
        assert f'data-testid="figure-{key}"' in html
        assert label in html
    assert figures.duration_text(found["time_to_resolve"]) in html
    assert "MTTA" in html
    assert "MTTR" in html

    config = json.loads(html.split('<script id="postmortem-config" type="application/json">')[1].split("</script>")[0])
    assert config["since"] == (postmortem.window_start - figures.CHART_PADDING).isoformat()
    assert config["until"] == (postmortem.window_end + figures.CHART_PADDING).isoformat()
    assert config["shard"] == found["shards"][0]
    assert config["urls"]["health"] == "/api/v1/engine/health/"
    assert logged_in(commander).get(config["history"]).status_code == 200  # the same window, in engine history
    for chart in ("throughput", "latency", "queue"):
        assert f'data-testid="chart-{chart}"' in html
    assert '<script src="/static/vendor/plotly/plotly.min.js" defer>' in html
    assert '<script src="/static/console/postmortem.js" defer>' in html
    assert not EXTERNAL_REFERENCE.search(html)


def test_an_overdue_action_item_is_marked_on_the_post_mortem(postmortem, commander):
    yesterday = timezone.localdate() - timedelta(days=1)
    item = services.add_action_item(postmortem=postmortem, title="Rotate disks", by=commander, due_on=yesterday)
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    row = re.search(rf'<tr id="item-{item.pk}"(.*?)</tr>', html, re.DOTALL).group(0)
    assert "pm-overdue" in row
    assert 'data-testid="overdue"' in row


XSS = (
    '<script>alert("section")</script> <img src=x onerror="alert(1)"> [click](javascript:alert(2)) '
    '<a href="javascript:alert(3)" onclick="alert(4)">x</a> <iframe src="//evil.example"></iframe>'
)


@pytest.mark.parametrize("tail", ["sections/root_cause/", "public-summary/"])
def test_an_xss_payload_in_markdown_renders_inert(postmortem, commander, viewer, tail):
    logged_in(commander).post(page_of(postmortem, tail), {"body": XSS})
    html = html_of(logged_in(viewer).get(page_of(postmortem)))  # the viewer sees no textarea holding the source
    assert "click" in html  # the payload's text is there, rendered
    assert "<script>alert" not in html
    assert "<img src=" not in html.split('id="main"')[1]  # (the brand's logo is the only image: in the top bar)
    assert "<iframe" not in html
    assert "javascript:" not in html
    assert "onerror" not in html
    assert "onclick" not in html


def test_a_post_mortem_already_in_review_shows_its_escaped_source_in_the_textarea(postmortem, commander):
    logged_in(commander).post(page_of(postmortem, "sections/trigger/"), {"body": XSS})
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    assert "&lt;script&gt;alert(&quot;section&quot;)&lt;/script&gt;" in html
    assert "<script>alert" not in html


# -- the Markdown export ----------------------------------------------------------------------


def test_the_markdown_export_is_a_download_of_the_whole_post_mortem(postmortem, commander, viewer):
    services.edit_section(postmortem=postmortem, key="root_cause", body="A disk with *bad* sectors.", by=commander)
    services.add_action_item(postmortem=postmortem, title="Replace the disk", by=commander)
    response = logged_in(viewer).get(page_of(postmortem, "postmortem.md"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    code = postmortem.incident.code
    assert response["Content-Disposition"] == f'attachment; filename="{code}-postmortem.md"'
    text = response.content.decode()
    assert text == figures.as_markdown(fresh(postmortem))
    assert text.startswith(f"# Post-mortem: {code} Orders time out")
    assert "## Root cause\n\nA disk with *bad* sectors." in text
    assert "Replace the disk" in text


# -- the lists --------------------------------------------------------------------------------


def test_the_list_shows_each_post_mortem_with_its_open_action_items_and_filters_by_status(postmortem, commander):
    services.add_action_item(postmortem=postmortem, title="One", by=commander)
    closed = services.add_action_item(postmortem=postmortem, title="Two", by=commander)
    services.update_action_item(item=closed, by=commander, status="done")
    client = logged_in(commander)

    html = html_of(client.get(LIST))
    assert postmortem.incident.code in html
    assert '<td class="pm-count">1</td>' in html
    assert "cora-commander" in html

    assert postmortem.incident.code in html_of(client.get(LIST, {"status": "draft"}))
    assert postmortem.incident.code not in html_of(client.get(LIST, {"status": "published"}))
    assert client.get(LIST, {"status": "bogus"}).status_code == 400


def test_a_resolved_incident_without_a_post_mortem_is_offered_on_the_list(incident, commander, viewer):
    assert f'action="/console/postmortems/{incident.code}/create/"' in html_of(logged_in(commander).get(LIST))
    html = html_of(logged_in(viewer).get(LIST))
    assert incident.code in html
    assert "/create/" not in html


@pytest.fixture
def items(postmortem, commander, viewer) -> dict[str, ActionItem]:
    """Action items of every kind: overdue, due later, done, owned by the viewer or the commander."""
    today = timezone.localdate()
    add = services.add_action_item
    found = {
        "overdue": add(postmortem=postmortem, title="Overdue item", by=commander, owner=viewer,
                       due_on=today - timedelta(days=3)),
        "later": add(postmortem=postmortem, title="Later item", by=commander, owner=commander,
                     due_on=today + timedelta(days=30)),
        "done": add(postmortem=postmortem, title="Finished item", by=commander, owner=viewer,
                    due_on=today - timedelta(days=10)),
    }  # fmt: skip
    services.update_action_item(item=found["done"], by=commander, status="done")
    return found


def listed(client: Client, **query) -> list[str]:
    html = html_of(client.get(ACTION_ITEMS, query))
    return re.findall(r"<td>(\w+ item)", html)


def test_the_action_item_list_shows_open_items_and_filters_by_status_owner_and_overdue(items, viewer):
    client = logged_in(viewer)
    assert listed(client) == ["Overdue item", "Later item"]
    assert listed(client, status="done") == ["Finished item"]
    assert listed(client, status="all") == ["Finished item", "Overdue item", "Later item"]
    assert listed(client, owner="vera-viewer") == ["Overdue item"]
    assert listed(client, owner="vera-viewer", status="all") == ["Finished item", "Overdue item"]
    assert listed(client, overdue="on") == ["Overdue item"]
    assert listed(client, overdue="on", status="all") == ["Overdue item"]  # a closed item is never overdue


def test_the_action_item_list_marks_overdue_items_and_links_to_their_post_mortem(items, postmortem, viewer):
    html = html_of(logged_in(viewer).get(ACTION_ITEMS))
    overdue = items["overdue"]
    assert f'class="pm-item pm-overdue" data-status="open" data-testid="item-{overdue.pk}"' in html
    assert f'class="pm-item" data-status="open" data-testid="item-{items["later"].pk}"' in html
    assert html.count('data-testid="overdue"') == 1
    assert f'href="{page_of(postmortem)}#item-{overdue.pk}"' in html


def test_an_unknown_owner_in_the_filter_is_a_400_listing_the_open_items(items, viewer):
    response = logged_in(viewer).get(ACTION_ITEMS, {"owner": "nobody-here"})
    assert response.status_code == 400
    assert re.findall(r"<td>(\w+ item)", html_of(response)) == ["Overdue item", "Later item"]


def test_an_owner_without_a_role_is_not_offered(postmortem, commander):
    make_persona("gone-user", None)
    make_persona("new-viewer", Role.VIEWER)
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    options = html.split('id="new-item-owner"')[1].split("</select>")[0]
    assert "new-viewer" in options
    assert "gone-user" not in options


def test_an_approved_post_mortem_offers_publication_to_its_author(postmortem, commander, reviewer):
    approved(postmortem, author=commander, reviewer=reviewer)
    html = html_of(logged_in(commander).get(page_of(postmortem)))
    assert f'action="/console/postmortems/{postmortem.incident.code}/publish/"' in html
    assert "Request changes" in html
