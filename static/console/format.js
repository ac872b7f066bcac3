/* Exchange Console: how the dashboard and the history page write times, figures and engine events. */
(function () {
  "use strict";

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  /** "Nov 23, 15:43:40", in UTC like the rest of the console. */
  function clock(iso) {
    const d = new Date(iso);
    return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:` +
      pad(d.getUTCSeconds());
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function number(value, digits = 0) {
    if (value === null || value === undefined) return "—";
    return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function milliseconds(microseconds) {
    if (microseconds === null || microseconds === undefined) return "—";
    const value = microseconds / 1000;
    return `${value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 })} ms`;
  }

  function element(tag, properties = {}, children = []) {
    const node = document.createElement(tag);
    Object.assign(node, properties);
    node.append(...children);
    return node;
  }

  /** One engine event as a list item (the markup of engine/templates/engine/includes/event.html). */
  function eventItem(event, historyUrl) {
    const item = element("li", { className: `event severity-${event.severity}` });
    Object.assign(item.dataset, { id: event.id, kind: event.kind, severity: event.severity });
    const around = `${historyUrl}?${new URLSearchParams({ shard: event.shard, around: event.at })}`;
    const time = element("time", { dateTime: event.at }, [clock(event.at)]);
    item.append(
      element("a", { className: "event-time", href: around, title: "Show the health around this moment" }, [time]),
      element("span", { className: "severity" }, [event.severity.charAt(0).toUpperCase() + event.severity.slice(1)]),
      element("span", { className: "event-kind" }, [event.kind.replaceAll("_", " ")]),
      element("span", { className: "event-message" }, [event.message]),
    );
    const who = [event.actor, event.reason].filter(Boolean).join(": ");
    if (who) item.append(element("span", { className: "event-who" }, [who]));
    return item;
  }

  window.ConsoleFormat = { clock, duration, number, milliseconds, element, eventItem };
})();
