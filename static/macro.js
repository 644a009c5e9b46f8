// "Show more" for the freshness macro: fetch the next rows with a context JWT and add them as text.
(function () {
  "use strict";
  var section = document.querySelector(".freshness[data-items-url]");
  var button = document.getElementById("show-more");
  if (!section || !button) { return; }
  var statusLine = document.getElementById("more-status");
  var tbody = document.getElementById("item-rows");
  var pageSize = parseInt(section.getAttribute("data-page-size"), 10) || 10;

  function cell(row, text, className, label) {
    var td = document.createElement("td");
    td.setAttribute("data-label", label);
    if (className) { td.className = className; }
    if (text !== null) { td.textContent = text; }
    row.appendChild(td);
    return td;
  }

  function addRow(item) {
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
    cell(tr, item.editor || "unknown", "mono", "Last editor");
    tbody.appendChild(tr);
  }

  function token() {
    if (!window.AP || !AP.context || !AP.context.getToken) {
      return Promise.reject(new Error("The Confluence bridge (all.js) is not loaded."));
    }
    return new Promise(function (resolve) { AP.context.getToken(resolve); });
  }

  button.addEventListener("click", function () {
    var next = section.getAttribute("data-next");
    if (!next) { return; }
    button.disabled = true;
    statusLine.textContent = "Loading…";
    token().then(function (jwt) {
      var url = section.getAttribute("data-items-url") + "?offset=" + encodeURIComponent(next) +
        "&limit=" + pageSize + "&scope=" + encodeURIComponent(section.getAttribute("data-scope"));
      return fetch(url, { headers: { "Authorization": "JWT " + jwt, "Accept": "application/json" } });
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (!result.ok) { throw new Error(result.body.message || "Could not load more rows."); }
      result.body.items.forEach(addRow);
      var more = result.body.next !== null && result.body.next !== undefined;
      section.setAttribute("data-next", more ? String(result.body.next) : "");
      button.hidden = !more;
      statusLine.textContent = "Showing " + tbody.rows.length + " of " + result.body.total + " stalest items.";
    }).catch(function (error) {
      statusLine.textContent = error.message;
    }).then(function () {
      button.disabled = false;
    });
  });
})();
