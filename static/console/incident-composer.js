/* Exchange Console: the incident page's update composer.
 *
 * Adds to the plain form (which works without JavaScript): the template select fills the message
 * at once and offers only the templates for the chosen status; a preview pane renders the
 * Markdown as it will be published (POST /api/v1/markdown/preview/, the server's own sanitizer);
 * an internal note switches off the commander's status and component fields.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("incident-config").textContent);
  const PREVIEW_DELAY_MS = 350;
  const $ = (id) => document.getElementById(id);
  const form = $("composer-form");
  if (!form) return;
  const composer = $("composer");
  const body = form.elements.namedItem("body");
  const status = form.elements.namedItem("status");
  const templates = new Map(config.templates.map((template) => [String(template.id), template]));
  const state = { previewTimer: null, previewing: null };

  function csrfToken() {
    return form.elements.namedItem("csrfmiddlewaretoken").value;
  }

  // -- public update or internal note -------------------------------------------------------------

  function chosenKind() {
    const checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "update";
  }

  function kindChanged() {
    const kind = chosenKind();
    composer.dataset.kind = kind;
    // A disabled fieldset's fields are not sent: a note never carries a status or component change.
    const commander = $("commander-fields");
    if (commander) commander.disabled = kind === "note";
    $("publish-button").textContent = kind === "note" ? "Add internal note" : "Publish update";
  }

  // -- templates ------------------------------------------------------------------------------------

  function chosenStatus() {
    return (status && status.value) || config.status;
  }

  function filterTemplates() {
    const select = $("template-select");
    if (!select) return;
    const wanted = chosenStatus();
    for (const option of select.options) {
      if (!option.value) continue;
      option.hidden = option.dataset.status !== "" && option.dataset.status !== wanted;
      option.disabled = option.hidden;
    }
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled) select.value = "";
  }

  function applyTemplate(id) {
    const template = templates.get(id);
    if (!template) return;
    if (template.status && status && !status.value && [...status.options].some((o) => o.value === template.status)) {
      status.value = template.status;
    }
    body.value = template.bodies[chosenStatus()] || template.body;
    body.focus();
    previewSoon();
  }

  // -- preview --------------------------------------------------------------------------------------

  function previewSoon() {
    clearTimeout(state.previewTimer);
    state.previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  async function preview() {
    const text = body.value;
    const pane = $("preview");
    if (!text.trim()) {
      pane.hidden = true;
      return;
    }
    if (state.previewing) state.previewing.abort();
    state.previewing = new AbortController();
    try {
      const response = await fetch(config.preview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ body: text }),
        signal: state.previewing.signal,
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      showPreview((await response.json()).html);
    } catch (error) {
      if (error.name === "AbortError") return;
      $("preview-body").textContent = "The live preview is unavailable; the Preview button still works.";
      pane.hidden = false;
    }
  }

  function showPreview(html) {
    // The server sanitized this HTML (nh3 allow-list); DOMParser runs no scripts while parsing it.
    const parsed = new DOMParser().parseFromString(html, "text/html");
    $("preview-body").replaceChildren(...parsed.body.childNodes);
    $("preview").hidden = false;
  }

  // -- start ----------------------------------------------------------------------------------------

  function start() {
    for (const radio of form.querySelectorAll('input[name="kind"]')) radio.addEventListener("change", kindChanged);
    kindChanged();
    body.addEventListener("input", previewSoon);
    const select = $("template-select");
    if (select) {
      $("template-apply").hidden = true;
      select.addEventListener("change", () => applyTemplate(select.value));
    }
    if (status) status.addEventListener("change", filterTemplates);
    filterTemplates();
    if (body.value.trim()) previewSoon();
  }

  start();
})();
