// zipshort: the statistics pages (a link's or file's visits, the server's visits, the dashboard's last 14 days,
// Zipline's metrics). The pages are shells: this script reads the JSON API with the session cookie and draws it
// with the vendored uPlot (static/vendor/uplot). Text goes in with textContent only; styles through the CSSOM
// (the strict CSP allows no inline script or style attribute).
"use strict";

(function () {
  const TZ = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  const NUMBER = new Intl.NumberFormat();
  const charts = [];  // {host, build}: rebuilt when the colour scheme changes

  // ---- small helpers -------------------------------------------------------------------------------------

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function setText(id, value) { const node = document.getElementById(id); if (node) node.textContent = value; }
  function pad(n) { return String(n).padStart(2, "0"); }
  function isoDate(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }
  function daysAgo(n) { const d = new Date(); d.setDate(d.getDate() - n); return d; }
  function bytes(value) {
    let size = Number(value) || 0;
    for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
      if (size < 1024 || unit === "TiB") return unit === "B" ? `${Math.round(size)} B` : `${size.toFixed(1)} ${unit}`;
      size /= 1024;
    }
    return `${size.toFixed(1)} TiB`;
  }

  async function getJSON(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const message = body && (body.error || body.message) ? (body.error || body.message) : `HTTP ${res.status}`;
      throw new Error(message);
    }
    return body;
  }

  // ---- names people read ---------------------------------------------------------------------------------

  const regions = Intl.DisplayNames ? new Intl.DisplayNames(["en"], { type: "region" }) : null;
  const languages = Intl.DisplayNames ? new Intl.DisplayNames(["en"], { type: "language" }) : null;
  const ORPHAN_TYPES = { base_url: "The bare address", invalid_short_url: "Unknown short link", regular_404: "Other missing page" };

  function label(dim, value) {
    if (value === "other") return "Other";
    if (value === "unknown" || value === "" || value === null) return "Unknown";
    try {
      if (dim === "countries" && regions && /^[A-Za-z]{2}$/.test(value)) return `${regions.of(value.toUpperCase())} (${value.toUpperCase()})`;
      if (dim === "languages" && languages) return `${languages.of(value)} (${value})`;
    } catch (e) { /* an odd code: show it as it is */ }
    if (dim === "referrers" && value === "direct") return "Direct, or no referrer";
    if (dim === "orphan-types") return ORPHAN_TYPES[value] || value;
    return value;
  }

  // ---- top lists -----------------------------------------------------------------------------------------

  function fillTop(section, items, valueKey, countKey) {
    const body = section.querySelector("tbody");
    const empty = section.querySelector(".empty");
    body.replaceChildren();
    const list = Array.isArray(items) ? items : [];
    const total = list.reduce((sum, item) => sum + (Number(item[countKey]) || 0), 0);
    for (const item of list) {
      const count = Number(item[countKey]) || 0;
      const share = total ? count / total : 0;
      const row = el("tr");
      const name = el("th", label(section.dataset.top, item[valueKey]), "break");
      name.scope = "row";
      name.title = String(item[valueKey]);
      const bar = el("span", null, "bar");
      const fill = el("span");
      fill.style.width = `${(share * 100).toFixed(1)}%`;
      bar.append(fill);
      const shareCell = el("td", null, "share");
      shareCell.append(bar, el("span", `${Math.round(share * 100)}%`, "pct"));
      row.append(name, el("td", NUMBER.format(count), "num"), shareCell);
      body.append(row);
    }
    if (empty) empty.hidden = list.length > 0;
    section.querySelector("table").hidden = list.length === 0;
  }

  // ---- charts (uPlot) ------------------------------------------------------------------------------------

  const PERIOD = {
    hour: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    day: { weekday: "short", month: "short", day: "numeric" },
    week: { month: "short", day: "numeric", year: "numeric" },
    month: { month: "long", year: "numeric" },
  };
  function periodLabel(seconds, interval) {
    const text = new Date(seconds * 1000).toLocaleString(undefined, PERIOD[interval] || PERIOD.day);
    return interval === "week" ? `week of ${text}` : text;
  }

  // A time chart in ``host``: series = [{label, values, colour ("--accent"), bars}], xs in seconds.
  function timeChart(host, xs, series, options) {
    const build = () => {
      if (host._plot) { host._plot.destroy(); host._plot = null; }
      if (!window.uPlot) { host.textContent = "The chart library did not load."; return; }
      const muted = cssVar("--muted"), line = cssVar("--line");
      const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 }, font: "12px system-ui, sans-serif", labelFont: "600 12px system-ui, sans-serif" };
      const interval = options.interval || "day";
      const format = options.format || ((v) => (v === null || v === undefined ? "–" : NUMBER.format(v)));
      // Half a bucket of room on either side, so the first and last bars are whole.
      const half = xs.length > 1 ? (options.pad === false ? 0 : (xs[1] - xs[0]) / 2) : 1800;
      const opts = {
        width: Math.max(200, host.clientWidth), height: options.height || 240,
        scales: { x: { time: true, range: (u, min, max) => [min - half, max + half] }, y: { range: (u, min, max) => [0, Math.max(max || 0, options.minTop || 4) * 1.08] } },
        axes: [
          { ...axis, label: options.xLabel || `Time (${TZ})`, labelSize: 20 },
          { ...axis, label: options.yLabel || "Visits", labelSize: 20, size: options.ySize || 56, values: (u, ticks) => ticks.map((t) => format(t)) },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        series: [{ label: "Period", value: (u, v) => (v === null || v === undefined ? "–" : periodLabel(v, interval)) }].concat(series.map((s) => {
          const colour = cssVar(s.colour || "--accent");
          const out = { label: s.label, stroke: colour, width: 2, value: (u, v) => format(v), points: { show: xs.length <= 60, fill: colour } };
          if (s.bars) {
            out.fill = colour + "99";
            out.paths = window.uPlot.paths.bars({ size: [0.7, 48] });
            out.points = { show: false };
          }
          return out;
        })),
      };
      host.replaceChildren();
      host._plot = new window.uPlot(opts, [xs].concat(series.map((s) => s.values)), host);
    };
    if (!host._observed && window.ResizeObserver) {
      host._observed = true;
      let last = host.clientWidth;
      new ResizeObserver(() => {
        if (host._plot && Math.abs(host.clientWidth - last) > 2) {
          last = host.clientWidth;
          host._plot.setSize({ width: Math.max(200, host.clientWidth), height: host._plot.height });
        }
      }).observe(host);
    }
    const known = charts.find((c) => c.host === host);
    if (known) known.build = build; else charts.push({ host, build });
    build();
  }

  const dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (dark && dark.addEventListener) dark.addEventListener("change", () => charts.forEach((c) => c.build()));

  function seconds(iso) { return Math.floor(Date.parse(iso) / 1000); }

  function drawVisits(host, data) {
    const series = Array.isArray(data.series) ? data.series : [];
    timeChart(host, series.map((b) => seconds(b.start)), [
      { label: "Visits", values: series.map((b) => b.count), colour: "--accent", bars: true },
      { label: "Unique visitors", values: series.map((b) => b.unique), colour: "--ok" },
    ], { interval: data.interval, yLabel: "Visits", xLabel: `Time (${data.tz || TZ})` });
  }

  // ---- a link's, a file's or the server's visits ---------------------------------------------------------

  const PRESETS = {
    "24h": { interval: "hour", from: () => new Date(Date.now() - 24 * 3600 * 1000).toISOString(), to: () => new Date().toISOString() },
    "7d": { interval: "day", from: () => isoDate(daysAgo(6)), to: () => isoDate(new Date()) },
    "30d": { interval: "day", from: () => isoDate(daysAgo(29)), to: () => isoDate(new Date()) },
    "90d": { interval: "day", from: () => isoDate(daysAgo(89)), to: () => isoDate(new Date()) },
    "1y": { interval: "week", from: () => isoDate(daysAgo(364)), to: () => isoDate(new Date()) },
  };

  function autoInterval(from, to) {
    const days = (Date.parse(to) - Date.parse(from)) / 86400000 + 1;
    if (days <= 2) return "hour";
    if (days <= 120) return "day";
    if (days <= 3 * 365) return "week";
    return "month";
  }

  function statsPage(root) {
    const form = document.getElementById("stats-controls");
    const range = form.elements.range, from = form.elements.from, to = form.elements.to;
    const interval = form.elements.interval, bots = form.elements.bots;
    const csv = document.getElementById("csv");
    const status = document.getElementById("stats-status");
    let sequence = 0;

    // The controls start from the page's query (so a view can be bookmarked or shared).
    const given = new URLSearchParams(location.search);
    for (const [name, field] of [["range", range], ["from", from], ["to", to], ["interval", interval], ["bots", bots]]) {
      const value = given.get(name);
      if (value && (field.tagName !== "SELECT" || [...field.options].some((o) => o.value === value))) field.value = value;
    }

    function query() {
      const preset = PRESETS[range.value];
      let start, end, chosen;
      if (preset) {
        start = preset.from(); end = preset.to(); chosen = preset.interval;
      } else {
        if (!from.value || !to.value) return { error: "Choose both dates of the custom range." };
        if (from.value > to.value) return { error: "The range must start before it ends." };
        start = from.value; end = to.value; chosen = autoInterval(from.value, to.value);
      }
      const params = new URLSearchParams({ from: start, to: end, interval: interval.value === "auto" ? chosen : interval.value, bots: bots.value, tz: TZ });
      return { params };
    }

    function remember() {
      const shown = new URLSearchParams({ range: range.value });
      if (range.value === "custom") { shown.set("from", from.value); shown.set("to", to.value); }
      if (interval.value !== "auto") shown.set("interval", interval.value);
      if (bots.value !== "exclude") shown.set("bots", bots.value);
      history.replaceState(null, "", `${location.pathname}?${shown}`);
    }

    async function load() {
      form.querySelectorAll(".custom-range").forEach((div) => { div.hidden = range.value !== "custom"; });
      if (range.value === "custom" && !from.value && !to.value) { from.value = isoDate(daysAgo(29)); to.value = isoDate(new Date()); }
      remember();
      const q = query();
      if (q.error) { status.textContent = q.error; status.classList.add("error"); return; }
      const url = `${root.dataset.api}?${q.params}`;
      if (csv) {
        const csvParams = new URLSearchParams(q.params);
        csvParams.delete("interval");
        csvParams.set("format", "csv");
        csv.href = `${root.dataset.csv}?${csvParams}`;
      }
      const mine = ++sequence;
      root.dataset.state = "loading";
      status.classList.remove("error");
      status.textContent = "Loading…";
      let data;
      try {
        data = await getJSON(url);
      } catch (e) {
        if (mine !== sequence) return;
        status.textContent = `Could not load the statistics: ${e.message}`;
        status.classList.add("error");
        root.dataset.state = "error";
        return;
      }
      if (mine !== sequence) return;  // a newer request went out meanwhile
      render(data);
      const span = data.interval === "hour" ? `${new Date(data.from).toLocaleString()} – ${new Date(data.to).toLocaleString()}`
        : `${new Date(data.from).toLocaleDateString()} – ${new Date(Date.parse(data.to) - 1000).toLocaleDateString()}`;
      status.textContent = `${span} (${data.tz}), per ${data.interval}${data.bots !== undefined && bots.value === "exclude" ? "; bots left out" : ""}.`;
      root.dataset.url = url;
      root.dataset.state = "ready";
    }

    function render(data) {
      setText("stat-total", NUMBER.format(data.total || 0));
      setText("stat-unique", NUMBER.format(data.unique || 0));
      setText("stat-bots", NUMBER.format(data.bots || 0));
      drawVisits(document.getElementById("visits-chart"), data);
      const table = document.querySelector("#series-table tbody");
      table.replaceChildren();
      for (const bucket of data.series || []) {
        const row = el("tr");
        const when = el("th", periodLabel(seconds(bucket.start), data.interval));
        when.scope = "row";
        row.append(when, el("td", NUMBER.format(bucket.count), "num"), el("td", NUMBER.format(bucket.unique), "num"));
        table.append(row);
      }
      root.querySelectorAll("[data-top]").forEach((section) => {
        const dim = section.dataset.top;
        if (dim === "orphan-types") fillTop(section, data.orphans && data.orphans.types, "value", "count");
        else if (dim === "orphan-urls") fillTop(section, data.orphans && data.orphans.urls, "value", "count");
        else fillTop(section, data[dim], "value", "count");
      });
      if (data.orphans) setText("stat-orphans", NUMBER.format(data.orphans.total || 0));
    }

    form.addEventListener("change", () => { load(); });
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    load();
  }

  // ---- the dashboard's last 14 days ----------------------------------------------------------------------

  async function dashboardVisits(root) {
    const status = root.querySelector(".visits-status");
    const params = new URLSearchParams({ interval: "day", from: isoDate(daysAgo(13)), to: isoDate(new Date()), tz: TZ });
    try {
      const data = await getJSON(`${root.dataset.api}?${params}`);
      setText("visits-total", NUMBER.format(data.total || 0));
      setText("visits-unique", NUMBER.format(data.unique || 0));
      drawVisits(root.querySelector("[data-chart]"), data);
      status.textContent = `Visits to your links and files per day (${data.tz}), bots left out.`;
      root.dataset.state = "ready";
    } catch (e) {
      status.textContent = `Could not load your visits: ${e.message}`;
      status.classList.add("error");
      root.dataset.state = "error";
    }
  }

  // ---- Zipline's metrics ---------------------------------------------------------------------------------

  const METRIC_RANGES = { "7d": 7, "30d": 30, "90d": 90, "1y": 365 };

  function metricsPage(root) {
    const select = document.getElementById("metrics-range");
    const status = document.getElementById("stats-status");
    const given = new URLSearchParams(location.search).get("range");
    if (given && [...select.options].some((o) => o.value === given)) select.value = given;
    let sequence = 0;

    async function load() {
      history.replaceState(null, "", `${location.pathname}?range=${select.value}`);
      const params = new URLSearchParams();
      if (select.value === "all") params.set("all", "true");
      else {
        params.set("from", new Date(Date.now() - METRIC_RANGES[select.value] * 86400000).toISOString());
        params.set("to", new Date().toISOString());
      }
      const url = `${root.dataset.api}?${params}`;
      const mine = ++sequence;
      root.dataset.state = "loading";
      status.classList.remove("error");
      status.textContent = "Loading…";
      let data;
      try { data = await getJSON(url); } catch (e) {
        if (mine !== sequence) return;
        status.textContent = `Could not load the metrics: ${e.message}`;
        status.classList.add("error");
        root.dataset.state = "error";
        return;
      }
      if (mine !== sequence) return;
      const snapshots = (Array.isArray(data) ? data : []).slice().sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
      render(snapshots);
      status.textContent = snapshots.length ? `${snapshots.length} snapshot${snapshots.length === 1 ? "" : "s"}, the latest from ${new Date(snapshots[snapshots.length - 1].createdAt).toLocaleString()}.`
        : "No snapshots in this range yet.";
      root.dataset.url = url;
      root.dataset.state = "ready";
    }

    function render(snapshots) {
      const latest = snapshots.length ? snapshots[snapshots.length - 1].data || {} : {};
      for (const key of ["files", "urls", "users", "fileViews", "urlViews"]) setText(`metric-${key}`, latest[key] === undefined ? "–" : NUMBER.format(latest[key]));
      setText("metric-storage", latest.storage === undefined ? "–" : bytes(latest.storage));
      const xs = snapshots.map((s) => seconds(s.createdAt));
      const pick = (key) => snapshots.map((s) => (s.data && s.data[key] !== undefined ? Number(s.data[key]) : null));
      const hour = "hour";
      const host = (name) => root.querySelector(`[data-chart="${name}"]`);
      timeChart(host("counts"), xs, [{ label: "Files", values: pick("files"), colour: "--accent" }, { label: "Links", values: pick("urls"), colour: "--ok" }],
        { interval: hour, yLabel: "Count", height: 220, pad: false });
      timeChart(host("storage"), xs, [{ label: "Storage", values: pick("storage"), colour: "--warn" }],
        { interval: hour, yLabel: "Bytes", height: 220, pad: false, minTop: 1024, ySize: 76, format: (v) => (v === null || v === undefined ? "–" : bytes(v)) });
      timeChart(host("views"), xs, [{ label: "File views", values: pick("fileViews"), colour: "--accent" }, { label: "Link views", values: pick("urlViews"), colour: "--ok" }],
        { interval: hour, yLabel: "Views", height: 220, pad: false });
      const types = (latest.types || []).slice().sort((a, b) => b.sum - a.sum || String(a.type).localeCompare(String(b.type)));
      fillTop(root.querySelector('[data-top="types"]'), types, "type", "sum");
      userTable("files-users", latest.filesUsers, [["username", "User"], ["sum", "Files"], ["storage", "Storage", bytes], ["views", "Views"]]);
      userTable("urls-users", latest.urlsUsers, [["username", "User"], ["sum", "Links"], ["views", "Views"]]);
    }

    function userTable(id, rows, columns) {
      const table = document.getElementById(id);
      if (!table) return;
      const body = table.querySelector("tbody");
      body.replaceChildren();
      const list = (Array.isArray(rows) ? rows : []).slice().sort((a, b) => (b.sum || 0) - (a.sum || 0));
      if (!list.length) { const row = el("tr"); const cell = el("td", "Nobody yet.", "muted"); cell.colSpan = columns.length; row.append(cell); body.append(row); return; }
      for (const item of list) {
        const row = el("tr");
        columns.forEach(([key, name, format], i) => {
          const value = item[key];
          const cell = el("td", format ? format(value) : (typeof value === "number" ? NUMBER.format(value) : (value ?? "–")), i === 0 ? "break title" : "num");
          if (i > 0) cell.dataset.label = name;
          row.append(cell);
        });
        body.append(row);
      }
    }

    select.addEventListener("change", load);
    document.getElementById("metrics-controls").addEventListener("submit", (event) => { event.preventDefault(); load(); });
    load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const stats = document.querySelector("[data-stats]");
    if (stats) statsPage(stats);
    const visits = document.querySelector("[data-visits]");
    if (visits) dashboardVisits(visits);
    const metrics = document.querySelector("[data-metrics]");
    if (metrics) metricsPage(metrics);
  });
})();
