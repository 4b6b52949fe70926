// Headroom front-end helpers: plotly charts from data-figure JSON, sortable/filterable tables,
// CSV export, and polling progress for running jobs. No framework, no CDN.
(function () {
  "use strict";
  function renderCharts(root) {
    (root || document).querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.rendered) return;
      var fig = JSON.parse(el.dataset.figure);
      fig.layout = fig.layout || {};
      fig.layout.autosize = true;
      window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false }).then(function () {
        el.dataset.rendered = "1";
        el.classList.add("rendered");
      });
    });
  }
  function cellValue(td) {
    var v = td.dataset.value !== undefined ? td.dataset.value : td.textContent.trim();
    var n = parseFloat(String(v).replace(/[$,%]/g, ""));
    return isNaN(n) ? String(v).toLowerCase() : n;
  }
  function makeSortable(table) {
    table.querySelectorAll("thead th").forEach(function (th, idx) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("role", "columnheader");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a.cells[idx]), y = cellValue(b.cells[idx]);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  }
  function csvCell(text) {
    text = String(text).trim();
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // no formula injection
    return '"' + text.replace(/"/g, '""') + '"';
  }
  function addTools(table) {
    var tools = document.createElement("div");
    tools.className = "table-tools";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "Filter rows…";
    input.setAttribute("aria-label", "Filter table rows");
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
    tools.appendChild(input);
    tools.appendChild(csvButton(table));
    tools.appendChild(parquetButton(table));
    table.parentNode.insertBefore(tools, table);
  }
  function csvButton(table) {
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "secondary";
    btn.textContent = "Export CSV";
    btn.addEventListener("click", function () {
      var lines = [];
      Array.prototype.forEach.call(table.rows, function (r) {
        if (r.style.display === "none") return;
        lines.push(Array.prototype.map.call(r.cells, function (c) { return csvCell(c.textContent); }).join(","));
      });
      var blob = new Blob([lines.join("\n")], { type: "text/csv" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = (table.id || "table") + ".csv";
      a.click();
    });
    return btn;
  }
  // Parquet export of any table (shown rows): the server writes the file (planner/api/exports.py).
  function visibleCells(table) {
    var header = Array.prototype.map.call(table.tHead ? table.tHead.rows[0].cells : [], function (c) { return c.textContent.trim(); });
    var rows = [];
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (r) {
        if (r.style.display === "none" || r.cells.length !== header.length) return;
        rows.push(Array.prototype.map.call(r.cells, function (c) {
          return c.dataset.value !== undefined && c.dataset.value !== "" ? c.dataset.value : c.textContent.trim();
        }));
      });
    });
    return { header: header, rows: rows };
  }
  function parquetButton(table) {
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "secondary";
    btn.textContent = "Export Parquet";
    btn.addEventListener("click", function () {
      var cells = visibleCells(table);
      var name = table.id || "table";
      fetch("/export/table/", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ name: name, format: "parquet", header: cells.header, rows: cells.rows })
      }).then(function (r) { return r.blob(); }).then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = name + ".parquet";
        a.click();
      });
    });
    return btn;
  }
  function addExportOnly(table) {
    var tools = document.createElement("div");
    tools.className = "table-tools";
    tools.appendChild(csvButton(table));
    tools.appendChild(parquetButton(table));
    table.parentNode.insertBefore(tools, table);
  }
  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  // data-progress-drive="post": no worker (Celery eager, development) -- each POST runs one step.
  function pollProgress(el) {
    var url = el.dataset.progressUrl;
    var drive = el.dataset.progressDrive === "post";
    function tick() {
      var opts = { credentials: "same-origin" };
      if (drive) opts = { credentials: "same-origin", method: "POST", headers: { "X-CSRFToken": csrfToken() } };
      fetch(url, opts).then(function (r) { return r.json(); }).then(function (s) {
        var bar = el.querySelector("progress");
        if (bar) bar.value = s.progress || 0;
        var msg = el.querySelector(".progress-message");
        if (msg) msg.textContent = s.message || s.status;
        if (s.status === "succeeded" || s.status === "failed") {
          if (el.dataset.reload !== "no") window.location.reload();
          return;
        }
        setTimeout(tick, drive ? 150 : 1000);
      }).catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }
  window.Headroom = { renderCharts: renderCharts, pollProgress: pollProgress };
  document.addEventListener("DOMContentLoaded", function () {
    renderCharts();
    document.querySelectorAll("table.sortable").forEach(function (t) { makeSortable(t); addTools(t); });
    document.querySelectorAll("table.data:not(.sortable)").forEach(function (t) { if (t.tHead) addExportOnly(t); });
    document.querySelectorAll("[data-progress-url]").forEach(pollProgress);
  });
})();
