/* Exchange Console: the health history page (engine/views.py `history`). Plain JS, no build step.
 *
 * Draws one past window from GET /api/v1/engine/health/ (which picks one-second or per-minute points)
 * with the dashboard's charts, engine events as dotted lines and markers on the time axis.
 */
(function () {
  "use strict";

  const source = document.getElementById("history-config");
  if (!source) return;
  const config = JSON.parse(source.textContent);
  const Charts = window.EngineCharts;
  const charts = Array.from(document.querySelectorAll("[data-chart]"));
  const summary = document.getElementById("history-summary");
  const { eventItem } = window.ConsoleFormat;
  let drawn = null;

  function draw(market) {
    const shapes = Charts.eventLines(drawn.events);
    for (const chart of charts) {
      Charts.draw(chart, drawn.metrics, { market, events: drawn.events, shapes });
    }
  }

  function describe(answer) {
    const resolution = answer.resolution === "1s" ? "one point a second" : "one point a minute";
    const points = answer.metrics.length.toLocaleString("en-US");
    return `${points} points (${resolution}), ${answer.events.length} engine events`;
  }

  function listEvents(events) {
    const list = document.getElementById("events");
    list.replaceChildren(...events.slice().reverse().map((event) => eventItem(event, config.urls.history)));
    document.getElementById("events-empty").hidden = events.length > 0;
  }

  async function load() {
    const query = new URLSearchParams({ shard: config.shard, since: config.since, until: config.until });
    let response;
    try {
      response = await fetch(`${config.urls.health}?${query}`, { headers: { Accept: "application/json" } });
    } catch (error) {
      summary.textContent = `could not load: ${error.message}`;
      return;
    }
    if (!response.ok) {
      summary.textContent = `could not load (HTTP ${response.status})`;
      return;
    }
    drawn = await response.json();
    summary.textContent = describe(drawn);
    document.getElementById("market-select").disabled = drawn.resolution !== "1s";
    draw("total");
    listEvents(drawn.events);
  }

  if (!window.Plotly) {
    summary.textContent = "the charts could not load (plotly.min.js is missing)";
    return;
  }
  document.getElementById("market-select").addEventListener("change", (event) => draw(event.target.value));
  load();
})();
