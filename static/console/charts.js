/* Exchange Console: the engine's health charts (Plotly.js), shared by the live dashboard and the history page.
 *
 * A chart draws metrics snapshots (the `metrics` messages of /ws/engine/health/, or the points of
 * GET /api/v1/engine/health/) for all markets or one, with engine events as markers on its time axis.
 * Times are drawn in UTC, like everything else in the console.
 */
(function () {
  "use strict";

  const COLORS = {
    commands: "#1f6feb", trades: "#1a7f37", p50: "#0f3d5e", p99: "#d97706", p999: "#c62828", queue: "#6f42c1",
  };
  const SEVERITY_COLORS = { info: "#5b6875", warning: "#d97706", critical: "#c62828" };
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const EVENT_MARK_Y = 0.96; // on the hidden 0..1 axis: the top edge of the plot

  // What a snapshot says for the chosen scope: the engine's totals, or one market's figures.
  function scopeOf(point, market) {
    if (market === "total") return point;
    return (point.markets || {})[market] || {};
  }

  function ms(microseconds) {
    return microseconds === null || microseconds === undefined ? null : microseconds / 1000;
  }

  function latency(point, market, key) {
    return ms((scopeOf(point, market).latency_us || {})[key]);
  }

  const CHARTS = {
    throughput: {
      yTitle: "per second",
      traces: [
        { name: "Commands/s", color: COLORS.commands, value: (p, m) => scopeOf(p, m).commands_per_s },
        { name: "Trades/s", color: COLORS.trades, value: (p, m) => scopeOf(p, m).trades_per_s },
      ],
    },
    latency: {
      yTitle: "ms",
      traces: [
        { name: "p50", color: COLORS.p50, value: (p, m) => latency(p, m, "p50") },
        { name: "p99", color: COLORS.p99, value: (p, m) => latency(p, m, "p99") },
        { name: "p99.9", color: COLORS.p999, value: (p, m) => latency(p, m, "p999") },
      ],
    },
    queue: {
      yTitle: "commands",
      // The queue is the engine's, whichever market is shown.
      traces: [{ name: "Queue depth", color: COLORS.queue, value: (p) => p.queue_depth, fill: "tozeroy" }],
    },
  };

  function pad(number, width = 2) {
    return String(number).padStart(width, "0");
  }

  // Plotly reads "YYYY-MM-DD HH:MM:SS.sss" as is; a Date object would be shown in the browser's time zone.
  function utc(seconds) {
    const d = new Date(seconds * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
  }

  function value(trace, point, market) {
    const found = trace.value(point, market);
    return found === undefined ? null : found;
  }

  function eventTrace(events) {
    return {
      name: "Engine events",
      type: "scatter",
      mode: "markers",
      yaxis: "y2",
      x: events.map((event) => utc(Date.parse(event.at) / 1000)),
      y: events.map(() => EVENT_MARK_Y),
      text: events.map((event) => `${event.kind}: ${event.message}`),
      hovertemplate: "%{text}<extra></extra>",
      marker: {
        symbol: "triangle-down", size: 11,
        color: events.map((event) => SEVERITY_COLORS[event.severity] || SEVERITY_COLORS.info),
        line: { width: 1, color: "#ffffff" },
      },
      showlegend: false,
      cliponaxis: false,
    };
  }

  function traces(name, points, market, events) {
    const drawn = CHARTS[name].traces.map((trace) => ({
      name: trace.name,
      type: "scatter",
      mode: "lines",
      x: points.map((point) => utc(point.time)),
      y: points.map((point) => value(trace, point, market)),
      line: { color: trace.color, width: 1.8 },
      fill: trace.fill || "none",
      fillcolor: trace.fill ? `${trace.color}22` : undefined,
      connectgaps: false,
      hovertemplate: "%{y}",
    }));
    drawn.push(eventTrace(events || []));
    return drawn;
  }

  function layout(name, options) {
    return {
      height: options.height || 230,
      margin: { l: 52, r: 12, t: 30, b: 32 },
      font: { family: FONT, size: 12, color: "#17212b" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 } },
      hovermode: "x unified",
      xaxis: { type: "date", gridcolor: "#eef2f5", linecolor: "#d9e0e6", automargin: true, fixedrange: !!options.live },
      yaxis: {
        title: { text: CHARTS[name].yTitle, font: { size: 11, color: "#5b6875" } },
        rangemode: "tozero", gridcolor: "#eef2f5", zeroline: false, automargin: true, fixedrange: !!options.live,
      },
      yaxis2: { overlaying: "y", range: [0, 1], visible: false, fixedrange: true },
      shapes: options.shapes || [],
      uirevision: options.uirevision || name,
    };
  }

  const PLOT_CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines", "hoverCompareCartesian"],
  };

  function markCount(element) {
    element.dataset.points = String(element.data && element.data[0] ? element.data[0].x.length : 0);
  }

  /** Draw a chart anew (on load, and when the operator picks another market or window). */
  function draw(element, points, { market = "total", events = [], live = false, shapes = [] } = {}) {
    const name = element.dataset.chart;
    return window.Plotly.react(element, traces(name, points, market, events), layout(name, { live, shapes }),
      PLOT_CONFIG).then(() => markCount(element));
  }

  /** Append points to a drawn chart, keeping at most `maxPoints` (no redraw). */
  function extend(element, points, { market = "total", maxPoints }) {
    if (!points.length) return;
    const chart = CHARTS[element.dataset.chart];
    const x = points.map((point) => utc(point.time));
    const update = {
      x: chart.traces.map(() => x),
      y: chart.traces.map((trace) => points.map((point) => value(trace, point, market))),
    };
    window.Plotly.extendTraces(element, update, chart.traces.map((_, index) => index), maxPoints);
    markCount(element);
  }

  /** Replace the event markers of a drawn chart (events are rare: a restyle of one trace). */
  function markEvents(element, events) {
    const index = CHARTS[element.dataset.chart].traces.length;
    const marks = eventTrace(events);
    window.Plotly.restyle(element, { x: [marks.x], y: [marks.y], text: [marks.text], "marker.color": [marks.marker.color] },
      [index]);
  }

  /** Vertical lines at each event, for charts of a past window. */
  function eventLines(events) {
    return events.map((event) => ({
      type: "line", xref: "x", yref: "paper", y0: 0, y1: 1,
      x0: utc(Date.parse(event.at) / 1000), x1: utc(Date.parse(event.at) / 1000),
      line: { color: SEVERITY_COLORS[event.severity] || SEVERITY_COLORS.info, width: 1, dash: "dot" },
    }));
  }

  /** A price in ticks as the market's decimal (ticks × tick size), exactly: "0.01" × 6500012 → "65000.12". */
  function ticksToDecimal(ticks, tickSize) {
    if (ticks === null || ticks === undefined || !tickSize) return null;
    const [whole, fraction = ""] = String(tickSize).split(".");
    let units = BigInt(ticks) * BigInt(whole + fraction);
    const negative = units < 0n;
    if (negative) units = -units;
    const digits = units.toString().padStart(fraction.length + 1, "0");
    const text = fraction.length ? `${digits.slice(0, -fraction.length)}.${digits.slice(-fraction.length)}` : digits;
    return (negative ? "-" : "") + text;
  }

  window.EngineCharts = { CHARTS, draw, extend, markEvents, eventLines, ticksToDecimal, utc, scopeOf };
})();
