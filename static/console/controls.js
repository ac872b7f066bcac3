/* Exchange Console: the dashboard's engine controls, for commanders (the page includes this file only for them;
 * the API refuses everyone else anyway). Each action opens a <dialog> that asks for confirmation and a reason,
 * posts to the API with the CSRF token, and shows the API's answer. Its effect arrives live: the market's tile
 * changes with the next metrics message, and the engine's events list the change.
 */
(function () {
  "use strict";

  const dialog = document.getElementById("control-dialog");
  if (!dialog) return;
  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const form = document.getElementById("control-form");
  const result = document.getElementById("control-result");
  const outcome = document.getElementById("control-outcome");
  const confirmButton = document.getElementById("control-confirm");
  const reason = document.getElementById("control-reason");
  let current = null; // {action, symbol}

  const ACTIONS = {
    mode: {
      title: (symbol) => `Change the mode of ${symbol}`,
      summary: () => "Open: trading as usual. Post-only: no order may take liquidity. Cancel-only: cancels only. " +
        "Halted: nothing at all.",
      confirm: "Change mode",
      url: (symbol) => config.urls.mode.replace("__symbol__", encodeURIComponent(symbol)),
      body: (data) => ({ mode: data.get("mode"), cancel_resting: data.get("cancel_resting") === "on" }),
      done: (answer) => `${answer.symbol}: ${answer.previous || "?"} → ${answer.mode}` +
        (answer.cancelled_orders ? `, ${answer.cancelled_orders} resting orders cancelled.` : "."),
    },
    restart: {
      title: () => `Restart the engine of shard ${config.shard}`,
      summary: () => "The worker drains (finishes and journals what it holds) and a new one starts. " +
        "Orders wait for the seconds this takes.",
      confirm: "Restart engine",
      url: () => config.urls.restart,
      body: () => ({ shard: config.shard }),
      done: (answer) => `Engine ${answer.shard}: ${answer.previous_state || "?"} → ${answer.state || "restarting"}.`,
    },
    drill: {
      title: () => `Run a recovery drill on shard ${config.shard}`,
      summary: () => "Puts simulated load on the engine, injects the fault and measures recovery (RTO) and " +
        "lost acknowledged orders (RPO). Takes 5 to 10 seconds; the result arrives in the events.",
      confirm: "Run drill",
      url: () => config.urls.drills,
      body: (data) => ({ shard: config.shard, fault: data.get("fault") }),
      done: (answer) => `${answer.fault} drill started on ${answer.shard}; its RTO and RPO follow in the events.`,
    },
  };

  function open(action, symbol) {
    current = { action, symbol };
    const spec = ACTIONS[action];
    document.getElementById("control-title").textContent = spec.title(symbol);
    document.getElementById("control-summary").textContent = spec.summary(symbol);
    for (const fieldset of form.querySelectorAll("fieldset[data-for]")) {
      const used = fieldset.dataset.for === action;
      fieldset.hidden = !used;
      fieldset.disabled = !used;
    }
    if (action === "mode") preselectMode(symbol);
    confirmButton.textContent = spec.confirm;
    confirmButton.disabled = false;
    reason.value = "";
    reason.setCustomValidity("");
    result.textContent = "";
    result.className = "control-result";
    dialog.showModal();
    reason.focus();
  }

  // Offer a change: the first mode that is not the market's current one.
  function preselectMode(symbol) {
    const tile = document.querySelector(`.market-tile[data-symbol="${CSS.escape(symbol)}"]`);
    const select = document.getElementById("control-mode");
    const now = tile ? tile.dataset.mode : null;
    const other = Array.from(select.options).find((option) => option.value !== now);
    if (other && select.value === now) select.value = other.value;
  }

  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function describeError(response, answer) {
    if (response.status === 403) return "Refused: your role may not do this.";
    if (response.status === 503) {
      const wait = response.headers.get("Retry-After");
      return `The engine cannot answer now: ${answer.detail || "unavailable"}.${wait ? ` Try again in ${wait} s.` : ""}`;
    }
    if (answer.detail) return `Refused: ${answer.detail}`;
    const fields = Object.entries(answer).map(([name, errors]) => `${name}: ${[].concat(errors).join(" ")}`);
    return fields.length ? fields.join("; ") : `The server answered ${response.status}.`;
  }

  async function send() {
    const spec = ACTIONS[current.action];
    const data = new FormData(form);
    const body = { ...spec.body(data, current.symbol), reason: reason.value.trim() };
    confirmButton.disabled = true;
    result.textContent = "Sending…";
    let response;
    let answer = {};
    try {
      response = await fetch(spec.url(current.symbol), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      showFailure(`Could not reach the console: ${error.message}`);
      return;
    }
    if (!response.ok) {
      showFailure(describeError(response, answer));
      return;
    }
    dialog.close();
    outcome.textContent = spec.done(answer);
    outcome.className = "control-outcome ok";
  }

  function showFailure(text) {
    result.textContent = text;
    result.className = "control-result error";
    confirmButton.disabled = false;
  }

  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => open(button.dataset.action, button.dataset.symbol));
  }
  document.getElementById("control-cancel").addEventListener("click", () => dialog.close());
  reason.addEventListener("input", () => reason.setCustomValidity(""));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!reason.value.trim()) reason.setCustomValidity("Say why: the reason goes to the audit log.");
    if (!form.reportValidity()) return;
    send();
  });
})();
