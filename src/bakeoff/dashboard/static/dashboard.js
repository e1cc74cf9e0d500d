/* Draws the overview's uPlot charts from the JSON each page embeds, and again after htmx swaps it. */
(function () {
  "use strict";
  var COLOURS = { legacy: "#57606a", pgboss: "#0969da", inngest: "#bc4c00" };
  var charts = [];

  function data(name, root) {
    var el = root.querySelector('script[data-chart-data="' + name + '"]');
    return el ? JSON.parse(el.textContent) : null;
  }

  function series(arms, label) {
    return [{ label: label }].concat(arms.map(function (arm) {
      return { label: arm, stroke: COLOURS[arm] || "#000", width: 2, spanGaps: true };
    }));
  }

  function ecdf(el, d) {
    if (!d || !d.x.length) { el.textContent = "No completed jobs yet."; return; }
    var arms = d.arms.filter(function (a) { return d.series[a]; });
    var rows = [d.x].concat(arms.map(function (a) { return d.series[a]; }));
    charts.push(new uPlot({
      width: el.clientWidth || 400, height: 240,
      scales: { x: { distr: 3, time: false }, y: { range: [0, 1] } },
      axes: [{ label: "latency (ms)" }, { label: "share finished" }],
      series: series(arms, "ms")
    }, rows, el));
  }

  // uPlot stretches a single day over years: a trial of a day or two gets a day on either side.
  function dayRange(x) {
    var lo = x[0], hi = x[x.length - 1];
    return hi - lo < 2 * 86400 ? [lo - 86400, hi + 86400] : [lo, hi];
  }

  function daily(el, d) {
    if (!d || !d.x.length) { el.textContent = "No jobs yet."; return; }
    var rows = [d.x].concat(d.arms.map(function (a) { return d.jobs[a]; }));
    charts.push(new uPlot({
      width: el.clientWidth || 400, height: 240,
      axes: [{}, { label: "jobs" }],
      scales: { x: { time: true, auto: false, range: dayRange(d.x) } },
      series: series(d.arms, "day")
    }, rows, el));
  }

  function draw(root) {
    if (typeof uPlot === "undefined") { return; }
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      el.textContent = "";
      var name = el.getAttribute("data-chart");
      (name === "ecdf" ? ecdf : daily)(el, data(name, root));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function () { draw(document); });
})();
