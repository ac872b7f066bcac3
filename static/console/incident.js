/* Exchange Console: the live incident page.
 *
 * New timeline entries arrive on the websocket /ws/incidents/<code>/ and are appended without a
 * reload; an entry that changes what the page shows above (an update, a note, a status or
 * component change) makes the page fetch its summary and updates again. A dropped connection
 * shows a banner, reconnects with backoff and, once back, fetches what it missed.
 * Without JavaScript the page is complete as of its load; only the live parts need this file.
 * Server strings go into the page as text only; the fetched parts are our own sanitized markup.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("incident-config").textContent);
  const { clock, element } = window.ConsoleFormat;
  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const REFRESH_DELAY_MS = 250; // several entries of one change (status, components, update) cost one fetch
  const LIVE_PARTS = ["incident-badges", "incident-summary", "incident-updates"];

  const $ = (id) => document.getElementById(id);
  const root = $("incident");
  const list = $("timeline");
  const state = {
    socket: null,
    attempts: 0,
    reconnectTimer: null,
    countdownTimer: null,
    reconnectAt: 0,
    everOpen: false,
    kind: config.kind,
    seen: new Set([...list.querySelectorAll(".entry")].map((item) => Number(item.dataset.id))),
    refreshTimer: null,
  };

  // -- the timeline -----------------------------------------------------------------------------

  function entryItem(entry) {
    const item = element("li", { className: `entry kind-${entry.kind}` });
    Object.assign(item.dataset, { id: entry.id, kind: entry.kind });
    item.append(
      element("time", { className: "entry-time", dateTime: entry.at }, [clock(entry.at)]),
      element("span", { className: "entry-kind" }, [entry.kind.replaceAll("_", " ")]),
      element("span", { className: "entry-actor" }, [entry.actor_name]),
      element("span", { className: "entry-summary" }, [entry.summary]),
    );
    return item;
  }

  function addEntry(entry, { fresh = true } = {}) {
    if (state.seen.has(entry.id)) return false;
    state.seen.add(entry.id);
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const item = entryItem(entry);
    item.hidden = Boolean(state.kind) && entry.kind !== state.kind;
    if (fresh) item.classList.add("fresh");
    insertInOrder(item, entry.id);
    offerKind(entry.kind);
    updateEmpty();
    if (atBottom) list.scrollTop = list.scrollHeight;
    return true;
  }

  // Entries are shown oldest first; one fetched after a reconnection may be older than a live one.
  function insertInOrder(item, id) {
    const later = [...list.children].find((other) => Number(other.dataset.id) > id);
    list.insertBefore(item, later || null);
  }

  function offerKind(kind) {
    const select = $("kind-select");
    if ([...select.options].some((option) => option.value === kind)) return;
    const label = kind.replaceAll("_", " ");
    select.append(element("option", { value: kind }, [label.charAt(0).toUpperCase() + label.slice(1)]));
  }

  function updateEmpty() {
    $("timeline-empty").hidden = [...list.children].some((item) => !item.hidden);
  }

  function received(message) {
    let parsed;
    try {
      parsed = JSON.parse(message.data);
    } catch (error) {
      console.warn("incident: unreadable message", error);
      return;
    }
    if (parsed.type !== "timeline.entry") return;
    if (addEntry(parsed.entry) && config.refreshing.includes(parsed.entry.kind)) refreshSoon();
  }

  // -- filtering by kind: on the page when it holds every entry, else by reloading (?kind=) -----

  function chooseKind(kind) {
    if (config.kind) {
      $("timeline-filter").submit(); // the server filtered this page: the other kinds are not here
      return;
    }
    state.kind = kind;
    for (const item of list.children) item.hidden = Boolean(kind) && item.dataset.kind !== kind;
    updateEmpty();
    const url = new URL(location.href);
    if (kind) url.searchParams.set("kind", kind);
    else url.searchParams.delete("kind");
    history.replaceState(null, "", url);
  }

  // -- the summary and updates, fetched again when the timeline says they changed ---------------

  function refreshSoon() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refreshParts, REFRESH_DELAY_MS);
  }

  async function refreshParts() {
    let response;
    try {
      response = await fetch(config.fragment, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (error) {
      console.warn("incident: could not fetch the updates", error);
      return;
    }
    if (!response.ok || response.redirected) return; // logged out meanwhile: the next reload says so
    // DOMParser runs no scripts; the markup is the server's own template with sanitized update bodies.
    const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of LIVE_PARTS) {
      const fresh = fetched.getElementById(id);
      const here = $(id);
      if (fresh && here) here.replaceChildren(...fresh.childNodes);
    }
  }

  // What was written while the socket was down, from the API.
  async function backfill() {
    try {
      const response = await fetch(config.timeline, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      for (const entry of await response.json()) addEntry(entry, { fresh: false });
    } catch (error) {
      console.warn("incident: could not fetch the timeline", error);
    }
    refreshParts();
  }

  // -- the websocket, its banner and reconnection ------------------------------------------------

  function connect() {
    clearTimeout(state.reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${config.socket}`);
    state.socket = socket;
    root.dataset.connection = "connecting";
    socket.addEventListener("open", () => opened(socket));
    socket.addEventListener("message", received);
    socket.addEventListener("close", () => closed(socket));
  }

  function opened(socket) {
    if (state.socket !== socket) return;
    root.dataset.connection = "open";
    state.attempts = 0;
    if (state.everOpen) backfill();
    state.everOpen = true;
    showBanner(false);
  }

  function closed(socket) {
    if (state.socket !== socket) return;
    root.dataset.connection = "closed";
    // Exponential backoff with jitter, so a restarted server is not stormed by every open page at once.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    state.attempts += 1;
    state.reconnectAt = Date.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    showBanner(true);
  }

  function reconnectNow() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) return;
    if (state.socket) state.socket.close();
    connect();
  }

  function showBanner(visible) {
    const banner = $("banner-disconnected");
    banner.hidden = !visible;
    clearInterval(state.countdownTimer);
    if (!visible) return;
    const text = banner.querySelector("[data-text]");
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
      text.textContent = `Live updates stopped; reconnecting in ${seconds} s. New entries appear once it is back.`;
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
  }

  // -- start --------------------------------------------------------------------------------------

  function start() {
    $("kind-apply").hidden = true;
    $("kind-select").addEventListener("change", (event) => chooseKind(event.target.value));
    $("reconnect-now").addEventListener("click", reconnectNow);
    connect();
  }

  start();
})();
