/* Exchange Console: the live operator dashboard (engine/views.py `dashboard`). Plain JS, no build step.
 *
 * Data: on load the charts are filled from GET /api/v1/engine/health/ for the chosen window, then
 * the websocket /ws/engine/health/ appends each message. A jump in the messages' `seq`, a
 * reconnection, or live data coming back after a silence fetches what was missed from the API
 * (since the last point drawn) and appends it; points are deduplicated by their `time`.
 *
 * Hooks for tests: `data-points` on each chart, `data-state`/`data-stale` on the engine tile,
 * `data-mode` on each market tile, `data-connection`, `data-backfills`, `data-backfilled-points`
 * and `data-last-seq` on #dashboard, and the banners #banner-disconnected and #banner-stale.
 */
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;
  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const Charts = window.EngineCharts;
  const { clock, duration, number, milliseconds, element, eventItem } = window.ConsoleFormat;
  const STALE_MS = config.staleAfter * 1000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const RETRY_FILL_MS = 2000;
  const SEQ_RESET = 1000; // a seq this far below the last one: the producer's counter started again
  const MAX_CHART_EVENTS = 200;
  const STATE_LABELS = {
    starting: "Starting", recovering: "Recovering", running: "Running", restarting: "Restarting",
    failed: "Failed", waiting: "Waiting for lease", stopped: "Stopped", unknown: "No status yet",
  };
  const MODE_LABELS = { open: "Open", post_only: "Post-only", cancel_only: "Cancel-only", halted: "Halted" };

  const state = {
    market: "total",
    window: config.window, // minutes of chart
    points: [], // the snapshots on the charts, oldest first
    lastTime: 0, // `time` of the newest point drawn
    events: new Map(), // id -> event message, for the lists
    chartEvents: [], // events marked on the charts (those in the window)
    lastSeq: null,
    lastMessageAt: 0,
    status: null,
    statusAt: 0, // when (browser clock) the status shown was current
    tilesTime: 0, // `time` of the snapshot the tiles show
    socket: null,
    attempts: 0,
    everOpen: false,
    reconnectAt: 0,
    reconnectTimer: null,
    gap: null, // "disconnected" | "stale": live data has a hole to fill once it flows again
    silent: false,
    loading: false, // a fill from the API is in flight: live points wait in `pending`
    pending: [],
    fillAgain: false,
    startedAt: Date.now(),
    tickSizes: Object.fromEntries(config.markets.map((market) => [market.symbol, market.tick_size])),
  };

  const charts = Array.from(root.querySelectorAll("[data-chart]"));
  const $ = (id) => document.getElementById(id);

  // -- formatting ---------------------------------------------------------------------------

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  // -- charts -------------------------------------------------------------------------------

  function maxPoints() {
    return state.window * 60; // one snapshot a second
  }

  function redraw() {
    if (!window.Plotly) return;
    for (const chart of charts) {
      Charts.draw(chart, state.points, { market: state.market, events: state.chartEvents, live: true });
    }
    const scope = state.market === "total" ? "all markets" : state.market;
    setText($("charts-scope"), `${scope}, last ${state.window} minutes`);
  }

  // Sorted, one per `time`, newer than what is drawn.
  function newPoints(points) {
    const sorted = points.filter((point) => point.time > state.lastTime).sort((a, b) => a.time - b.time);
    return sorted.filter((point, index) => index === 0 || point.time !== sorted[index - 1].time);
  }

  /** Append snapshots to the charts (those not drawn yet); return how many were new. */
  function accept(points) {
    const fresh = newPoints(points);
    if (!fresh.length) return 0;
    state.points.push(...fresh);
    const excess = state.points.length - maxPoints();
    if (excess > 0) state.points.splice(0, excess);
    state.lastTime = fresh[fresh.length - 1].time;
    if (window.Plotly) {
      for (const chart of charts) Charts.extend(chart, fresh, { market: state.market, maxPoints: maxPoints() });
    }
    pruneChartEvents();
    return fresh.length;
  }

  function markOnCharts(event) {
    state.chartEvents.push(event);
    state.chartEvents.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    state.chartEvents.splice(0, Math.max(0, state.chartEvents.length - MAX_CHART_EVENTS));
    if (window.Plotly) for (const chart of charts) Charts.markEvents(chart, state.chartEvents);
  }

  // Events older than the oldest point leave the charts (otherwise they would stretch the time axis).
  function pruneChartEvents() {
    if (!state.points.length || !state.chartEvents.length) return;
    const oldest = state.points[0].time * 1000;
    if (Date.parse(state.chartEvents[0].at) >= oldest) return;
    state.chartEvents = state.chartEvents.filter((event) => Date.parse(event.at) >= oldest);
    if (window.Plotly) for (const chart of charts) Charts.markEvents(chart, state.chartEvents);
  }

  // -- filling from the API ---------------------------------------------------------------

  function healthUrl(since) {
    const query = new URLSearchParams({ shard: config.shard, since: since.toFixed(3) });
    return `${config.urls.health}?${query}`;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  /** Load the whole window anew (`replace`), or fetch what came after the last point drawn. */
  async function fill({ replace = false } = {}) {
    if (state.loading) {
      state.fillAgain = replace ? "replace" : state.fillAgain || true;
      return;
    }
    state.loading = true;
    const windowStart = Date.now() / 1000 - state.window * 60;
    const since = replace || !state.lastTime ? windowStart : state.lastTime;
    let answer;
    try {
      answer = await getJSON(healthUrl(since));
    } catch (error) {
      console.warn("engine health: could not fill the charts:", error);
      state.loading = false;
      setTimeout(() => fill({ replace }), RETRY_FILL_MS);
      return;
    }
    applyFill(answer, replace);
    state.loading = false;
    const waiting = state.pending.splice(0);
    accept(waiting);
    const again = state.fillAgain;
    state.fillAgain = false;
    if (again) fill({ replace: again === "replace" });
    updateBanners();
  }

  function applyFill(answer, replace) {
    if (replace) {
      state.lastTime = 0;
      state.points = newPoints(answer.metrics).slice(-maxPoints());
      state.lastTime = state.points.length ? state.points[state.points.length - 1].time : 0;
      state.chartEvents = answer.events.slice(-MAX_CHART_EVENTS);
      redraw();
    } else {
      const added = accept(answer.metrics);
      root.dataset.backfills = String(Number(root.dataset.backfills) + 1);
      root.dataset.backfilledPoints = String(Number(root.dataset.backfilledPoints) + added);
    }
    for (const event of answer.events) addEvent(event, { mark: !replace });
    if (answer.status) showStatus(answer.status, Date.now() - Math.max(0, answer.until - answer.status.time) * 1000);
    const last = answer.metrics[answer.metrics.length - 1];
    if (last && last.markets && Object.keys(last.markets).length) showTiles(last);
    if (answer.last_seq) state.lastSeq = Math.max(state.lastSeq || 0, answer.last_seq);
    if (isOpen() && !state.silent) state.gap = null; // caught up
  }

  // -- live messages ----------------------------------------------------------------------

  function handle(message) {
    if (message.shard !== config.shard) return; // another shard's health
    state.lastMessageAt = Date.now();
    if (state.silent) {
      state.silent = false;
      fill(); // data flows again: fetch what the silence hid
    }
    trackSeq(message.seq);
    if (message.type === "status") showStatus(message.data, Date.now());
    else if (message.type === "metrics") receiveMetrics(message.data);
    else if (message.type === "event") addEvent(message.data, { mark: true });
    updateBanners();
  }

  function trackSeq(seq) {
    if (typeof seq !== "number") return;
    const last = state.lastSeq;
    root.dataset.lastSeq = String(seq);
    if (last === null || seq === last + 1) {
      state.lastSeq = seq;
    } else if (seq > last + 1 || seq < last - SEQ_RESET) {
      state.lastSeq = seq; // messages were missed (or the counter was reset): fetch them
      fill();
    }
    // Otherwise an older message repeated on connect (the latest status and metrics): nothing missed.
  }

  function receiveMetrics(snapshot) {
    showTiles(snapshot);
    if (state.loading) state.pending.push(snapshot);
    else accept([snapshot]);
  }

  // -- the tiles --------------------------------------------------------------------------

  function showStatus(status, currentAt) {
    if (state.status && status.time < state.status.time) return; // older than the one shown
    state.status = status;
    state.statusAt = currentAt;
    renderEngine();
  }

  function renderEngine() {
    const tile = $("engine-state");
    const status = state.status;
    const silence = status ? (Date.now() - state.statusAt) / 1000 : null;
    const age = status && status.heartbeat_age !== null && status.heartbeat_age !== undefined
      ? status.heartbeat_age + silence : null;
    const silent = silence > config.staleAfter;
    const stale = !status || silent || (age !== null && age > config.staleAfter);
    const name = status ? status.state : "unknown";
    tile.dataset.state = name;
    tile.dataset.stale = String(stale);
    setText($("engine-state-label"), (STATE_LABELS[name] || name) + (status && silent ? " (last known)" : ""));
    if (!status) return;
    const running = status.uptime !== null && status.uptime !== undefined;
    const since = name === "running" && !silent ? silence : 0;
    setText($("engine-uptime"), running ? duration(status.uptime + since) : "—");
    setText($("engine-restarts"), number(status.restarts));
    setText($("engine-pid"), status.worker_pid ? `pid ${status.worker_pid}` : "none");
    const heartbeat = silence > config.staleAfter ? `no status for ${Math.floor(silence)} s`
      : age === null ? "none" : `${age.toFixed(1)} s ago`;
    setText($("engine-heartbeat"), heartbeat);
    $("engine-heartbeat").classList.toggle("bad", stale);
  }

  function showTiles(snapshot) {
    if (snapshot.time < state.tilesTime) return; // an older snapshot (repeated on connect)
    state.tilesTime = snapshot.time;
    setText($("kpi-commands"), number(snapshot.commands_per_s, 1));
    setText($("kpi-trades"), number(snapshot.trades_per_s, 1));
    setText($("kpi-latency"), milliseconds((snapshot.latency_us || {}).p99));
    setText($("kpi-queue"), number(snapshot.queue_depth));
    for (const [symbol, market] of Object.entries(snapshot.markets || {})) showMarket(symbol, market);
  }

  function showMarket(symbol, market) {
    const tile = root.querySelector(`.market-tile[data-symbol="${CSS.escape(symbol)}"]`);
    if (!tile) return;
    const tick = market.tick_size || state.tickSizes[symbol];
    const price = (ticks) => Charts.ticksToDecimal(ticks, tick) ?? "—";
    const field = (name) => tile.querySelector(`[data-field="${name}"]`);
    tile.dataset.mode = market.mode;
    setText(field("mode"), MODE_LABELS[market.mode] || market.mode);
    setText(field("best_bid"), price(market.best_bid));
    setText(field("best_ask"), price(market.best_ask));
    setText(field("spread"), price(market.spread));
    setText(field("last_price"), price(market.last_price));
    setText(field("resting"), number(market.resting));
    setText(field("commands_per_s"), number(market.commands_per_s, 1));
  }

  function showDrill(event) {
    const detail = event.detail || {};
    const body = $("drill-body");
    const rto = detail.rto_seconds === null || detail.rto_seconds === undefined
      ? "no recovery" : `${detail.rto_seconds.toFixed(3)} s`;
    body.replaceChildren(
      element("p", {}, [
        element("span", { className: `badge ${detail.passed ? "badge-ok" : "badge-bad"}` }, [detail.passed ? "Passed" : "Failed"]),
        ` ${detail.fault || ""} `,
        element("span", { className: "muted" }, [`· ${clock(event.at)}`]),
      ]),
      element("dl", { className: "facts" }, [
        fact("RTO", rto, "rto"), fact("RPO", `${number(detail.rpo_orders)} orders`, "rpo"),
        fact("Acknowledged", number(detail.acknowledged)),
      ]),
    );
  }

  // -- events and alerts ------------------------------------------------------------------

  function fact(term, value, name) {
    const dd = element("dd", {}, [value]);
    if (name) dd.dataset.field = name;
    return element("div", {}, [element("dt", {}, [term]), dd]);
  }

  function addEvent(event, { mark }) {
    if (state.events.has(event.id)) return;
    state.events.set(event.id, event);
    renderEvents();
    if (event.kind === "drill_finished") showDrillIfNewest(event);
    if (mark && state.points.length && Date.parse(event.at) >= state.points[0].time * 1000) markOnCharts(event);
  }

  function showDrillIfNewest(event) {
    const shown = $("drill").dataset.at;
    if (shown && Date.parse(shown) > Date.parse(event.at)) return;
    $("drill").dataset.at = event.at;
    showDrill(event);
  }

  function renderEvents() {
    const newestFirst = Array.from(state.events.values()).sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
    const alerts = newestFirst.filter((event) => event.severity !== "info");
    renderList($("events"), $("events-empty"), newestFirst.slice(0, config.eventsShown));
    renderList($("alerts"), $("alerts-empty"), alerts.slice(0, config.eventsShown));
  }

  function renderList(list, empty, events) {
    list.replaceChildren(...events.map((event) => eventItem(event, config.urls.history)));
    empty.hidden = events.length > 0;
  }

  // -- the websocket, its banners and reconnection --------------------------------------------

  function isOpen() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${config.urls.socket}`);
    state.socket = socket;
    root.dataset.connection = "connecting";
    socket.addEventListener("open", () => opened(socket));
    socket.addEventListener("message", (message) => received(message));
    socket.addEventListener("close", () => closed(socket));
  }

  function opened(socket) {
    if (state.socket !== socket) return;
    root.dataset.connection = "open";
    state.attempts = 0;
    state.lastMessageAt = Date.now(); // give the engine its two seconds before calling the data stale
    if (state.everOpen) fill(); // what was published while we were away
    state.everOpen = true;
    updateBanners();
  }

  function received(message) {
    let parsed;
    try {
      parsed = JSON.parse(message.data);
    } catch (error) {
      console.warn("engine health: unreadable message", error);
      return;
    }
    handle(parsed);
  }

  function closed(socket) {
    if (state.socket !== socket) return;
    root.dataset.connection = "closed";
    state.gap = "disconnected";
    // Exponential backoff with jitter, so a restarted server is not stormed by every dashboard at once.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    state.attempts += 1;
    state.reconnectAt = Date.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    updateBanners();
  }

  function reconnectNow() {
    if (isOpen()) return;
    if (state.socket) state.socket.close();
    connect();
  }

  function updateBanners() {
    const open = isOpen();
    const quiet = open && Date.now() - state.lastMessageAt > STALE_MS;
    if (quiet && !state.silent) {
      state.silent = true;
      state.gap = state.gap || "stale";
    }
    const starting = !state.everOpen && state.attempts === 0 && Date.now() - state.startedAt < STALE_MS;
    const disconnected = (!open && !starting) || (open && state.gap === "disconnected");
    const stale = !disconnected && open && (quiet || state.gap === "stale");
    const retryIn = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    showBanner($("banner-disconnected"), disconnected,
      open ? "Reconnected; fetching what was missed…" : "Live updates stopped; reconnecting…",
      open ? "" : `(next try in ${retryIn} s)`);
    showBanner($("banner-stale"), stale,
      quiet ? "No live data: the engine or Redis may be down. Showing the last known values." : "Live data is back; fetching what was missed…",
      quiet ? `(silent for ${Math.floor((Date.now() - state.lastMessageAt) / 1000)} s)` : "");
    root.dataset.live = String(open && !quiet && state.gap === null);
  }

  // The banners sit in a live region: their message changes are announced, the ticking count is not.
  function showBanner(banner, visible, text, count) {
    banner.hidden = !visible;
    if (!visible) return;
    setText(banner.querySelector("[data-text]"), text);
    setText(banner.querySelector("[data-count]"), count);
  }

  function tick() {
    updateBanners();
    renderEngine();
  }

  // -- the operator's choices -------------------------------------------------------------

  function chooseWindow(minutes) {
    state.window = minutes;
    const url = new URL(location.href);
    url.searchParams.set("window", String(minutes));
    history.replaceState(null, "", url);
    updateHistoryLink();
    fill({ replace: true });
  }

  function updateHistoryLink() {
    const since = new Date(Date.now() - state.window * 60000).toISOString();
    const query = new URLSearchParams({ shard: config.shard, since: since.slice(0, 19) });
    $("history-link").href = `${config.urls.history}?${query}`;
  }

  function setUpOptions() {
    $("market-select").addEventListener("change", (event) => {
      state.market = event.target.value;
      redraw();
    });
    $("window-select").addEventListener("change", (event) => chooseWindow(Number(event.target.value)));
    const shards = $("shard-select");
    if (shards) shards.addEventListener("change", () => $("dashboard-options").submit());
    $("reconnect-now").addEventListener("click", reconnectNow);
    updateHistoryLink();
  }

  // -- start --------------------------------------------------------------------------------

  // Plotly.js is big (4.8 MB): it loads once the page is up, so the tiles, events and controls
  // do not wait for it; the charts draw from the points gathered meanwhile.
  function loadPlotly() {
    const script = element("script", { src: config.urls.plotly, async: true });
    script.addEventListener("load", redraw);
    script.addEventListener("error", () => {
      for (const chart of charts) chart.textContent = "The charts could not load (plotly.min.js is missing).";
    });
    document.head.append(script);
  }

  function start() {
    for (const event of [...config.events, ...config.alerts]) state.events.set(event.id, event);
    renderEvents();
    if (config.drill) $("drill").dataset.at = config.drill.at;
    if (document.readyState === "complete") loadPlotly();
    else window.addEventListener("load", loadPlotly, { once: true });
    setUpOptions();
    fill({ replace: true });
    connect();
    setInterval(tick, 500);
  }

  start();
})();
