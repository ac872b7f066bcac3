/* Exchange Console: the health charts of a post-mortem's window (incidents/postmortems/views). Plain JS.
 *
 * Draws the incident window from GET /api/v1/engine/health/ with the dashboard's charts (charts.js):
 * throughput, latency p50/p99/p99.9 and queue depth, engine events as dotted lines and markers.
 * Everything else on the page is server-rendered and works without JavaScript.
 */
(function () {
  "use strict";

  const source = document.getElementById("postmortem-config");
  if (!source) return;
  const config = JSON.parse(source.textContent);
  const Charts = window.EngineCharts;
  const charts = Array.from(document.querySelectorAll("[data-chart]"));
  const summary = document.getElementById("charts-summary");
  const section = document.getElementById("charts");

  function describe(answer) {
    const resolution = answer.resolution === "1s" ? "one point a second" : "one point a minute";
    const points = answer.metrics.length.toLocaleString("en-US");
    const events = answer.events.length === 1 ? "1 engine event" : `${answer.events.length} engine events`;
    return `${points} points (${resolution}), ${events}`;
  }

  function settle(state, text) {
    section.dataset.state = state;
    summary.textContent = text;
  }

  // The time axis spans the whole window, so a gap in the stored series shows as a gap, not a zoom.
  function drawWindow(chart, answer) {
    const shapes = Charts.eventLines(answer.events);
    const range = [Charts.utc(Date.parse(config.since) / 1000), Charts.utc(Date.parse(config.until) / 1000)];
    return Charts.draw(chart, answer.metrics, { events: answer.events, shapes })
      .then(() => window.Plotly.relayout(chart, { "xaxis.range": range }));
  }

  async function load() {
    const query = new URLSearchParams({ shard: config.shard, since: config.since, until: config.until });
    let response;
    try {
      response = await fetch(`${config.urls.health}?${query}`, { headers: { Accept: "application/json" } });
    } catch (error) {
      settle("failed", `could not load: ${error.message}`);
      return;
    }
    if (!response.ok) {
      settle("failed", `could not load (HTTP ${response.status})`);
      return;
    }
    const answer = await response.json();
    await Promise.all(charts.map((chart) => drawWindow(chart, answer)));
    settle("drawn", describe(answer));
  }

  if (!window.Plotly || !Charts) {
    settle("failed", "the charts could not load (plotly.min.js is missing)");
    return;
  }
  settle("loading", "loading…");
  load();
})();
