// The freshness macro's script. Two jobs, both authenticated with a context JWT (AP.context.getToken):
// - "Show more": fetch the next rows of a rendered report and add them as text;
// - while the first scan of a scope runs: poll its status with back-off, move the progress bar, and
//   swap the report in (then AP.resize) when it is ready, without reloading the iframe.
(function () {
  "use strict";

  // Polling: first after 1 s, then 1.5x longer each time, at most 10 s apart, for at most 30 minutes.
  var POLL_FIRST_MS = 1000, POLL_FACTOR = 1.5, POLL_MAX_MS = 10000, POLL_FOR_MS = 30 * 60 * 1000;

  function token() {
    if (!window.AP || !AP.context || !AP.context.getToken) {
      return Promise.reject(new Error("The Confluence bridge (all.js) is not loaded."));
    }
    return new Promise(function (resolve) { AP.context.getToken(resolve); });
  }

  function getJson(url) {
    return token().then(function (jwt) {
      return fetch(url, { headers: { "Authorization": "JWT " + jwt, "Accept": "application/json" } });
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    });
  }

  function resize() {
    if (window.AP && typeof AP.resize === "function") { AP.resize(); }
  }

  function cell(row, text, className, label) {
    var td = document.createElement("td");
    td.setAttribute("data-label", label);
    if (className) { td.className = className; }
    if (text !== null) { td.textContent = text; }
    row.appendChild(td);
    return td;
  }

  function addRow(tbody, item) {
    var tr = document.createElement("tr");
    tr.className = item.stale ? "is-stale" : "is-fresh";
    var title = cell(tr, null, "", "Title");
    if (item.url) {
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_top";
      a.textContent = item.title;
      title.appendChild(a);
    } else {
      title.textContent = item.title;
    }
    var when = cell(tr, null, "", "Last updated");
    var time = document.createElement("time");
    time.dateTime = item.updatedAt;
    time.title = item.updatedDate;
    time.textContent = item.updatedAgo;
    var date = document.createElement("span");
    date.className = "subtle";
    date.textContent = " (" + item.updatedDate + ")";
    when.appendChild(time);
    when.appendChild(date);
    cell(tr, item.version === null ? "–" : String(item.version), "num", "Version");
    cell(tr, item.editor || "Unknown", "", "Last editor");
    tbody.appendChild(tr);
  }

  function initShowMore(section) {
    var button = section.querySelector("#show-more");
    if (!button) { return; }
    var statusLine = section.querySelector("#more-status");
    var tbody = section.querySelector("#item-rows");
    var pageSize = parseInt(section.getAttribute("data-page-size"), 10) || 10;
    button.addEventListener("click", function () {
      var next = section.getAttribute("data-next");
      if (!next) { return; }
      button.disabled = true;
      statusLine.textContent = "Loading…";
      var url = section.getAttribute("data-items-url") + "?offset=" + encodeURIComponent(next) +
        "&limit=" + pageSize + "&scope=" + encodeURIComponent(section.getAttribute("data-scope"));
      getJson(url).then(function (result) {
        if (!result.ok) { throw new Error(result.body.message || "Could not load more rows."); }
        result.body.items.forEach(function (item) { addRow(tbody, item); });
        var more = result.body.next !== null && result.body.next !== undefined;
        section.setAttribute("data-next", more ? String(result.body.next) : "");
        button.hidden = !more;
        statusLine.textContent = "Showing the " + tbody.rows.length + " stalest items you can open" +
          (more ? "." : "; that is all of them.");
        resize();
      }).catch(function (error) {
        statusLine.textContent = error.message;
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  function showProgress(section, body) {
    var bar = section.querySelector("#scan-bar");
    var detail = section.querySelector("#scan-detail");
    var title = section.querySelector("#scan-title");
    if (body.percent !== null && body.percent !== undefined) {
      bar.value = body.percent;
      bar.textContent = body.percent + " %";
    } else {
      bar.removeAttribute("value");  // indeterminate until a total is known
    }
    if (body.state === "running") { title.textContent = "Reading this space…"; }
    if (body.message) {
      detail.textContent = body.message;
    } else if (body.itemsRead) {
      detail.textContent = body.itemsRead.toLocaleString("en") + " " +
        (section.getAttribute("data-noun") || "items") + " read" +
        (body.total ? " of about " + body.total.toLocaleString("en") : "") + ".";
    }
  }

  function showFailure(section, message) {
    var box = section.querySelector(".scan-progress");
    box.className = "scan-progress message message-error";
    box.setAttribute("role", "alert");
    section.querySelector("#scan-title").textContent = "The report could not be made";
    section.querySelector("#scan-detail").textContent = message;
    var bar = section.querySelector("#scan-bar");
    if (bar) { bar.hidden = true; }
    resize();
  }

  function swapIn(section, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;  // our own server-rendered, escaped HTML
    var report = holder.querySelector(".freshness");
    if (!report) { return; }
    section.parentNode.replaceChild(report, section);
    initShowMore(report);
    resize();
  }

  function pollScan(section) {
    var started = Date.now();
    var delay = POLL_FIRST_MS;
    var url = section.getAttribute("data-status-url") + "?scope=" +
      encodeURIComponent(section.getAttribute("data-scope")) + "&rows=" +
      encodeURIComponent(section.getAttribute("data-page-size") || "10");
    function again() {
      if (Date.now() - started > POLL_FOR_MS) {
        showFailure(section, "This is taking longer than expected. Reload the page later.");
        return;
      }
      window.setTimeout(tick, delay);
      delay = Math.min(POLL_MAX_MS, delay * POLL_FACTOR);
    }
    function tick() {
      getJson(url).then(function (result) {
        if (!result.ok) { throw new Error(result.body.message || "Could not check the scan."); }
        var body = result.body;
        if (body.state === "ready" && body.html) { swapIn(section, body.html); return; }
        if (body.state === "failed") { showFailure(section, body.message || "The scan failed."); return; }
        showProgress(section, body);
        again();
      }).catch(function (error) {
        section.querySelector("#scan-detail").textContent = error.message + " Retrying…";
        again();
      });
    }
    again();
  }

  var scanning = document.querySelector(".freshness.scanning[data-status-url]");
  if (scanning) { pollScan(scanning); }
  var report = document.querySelector(".freshness[data-items-url]");
  if (report) { initShowMore(report); }
})();
