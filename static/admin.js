// The admin settings form: save with a context JWT, show each field's error next to it.
(function () {
  "use strict";
  var form = document.getElementById("settings-form");
  if (!form) { return; }
  var statusLine = document.getElementById("save-status");
  var fields = ["staleDays", "cacheTtlMinutes", "rowsPerPage", "excludedSpaces"];

  function showErrors(errors) {
    fields.forEach(function (name) {
      var box = document.getElementById(name + "-error");
      var input = document.getElementById(name);
      var message = errors[name];
      box.textContent = message || "";
      box.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
    });
  }

  function token() {
    if (!window.AP || !AP.context || !AP.context.getToken) {
      return Promise.reject(new Error("The Confluence bridge (all.js) is not loaded."));
    }
    return new Promise(function (resolve) { AP.context.getToken(resolve); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {};
    fields.forEach(function (name) { body[name] = document.getElementById(name).value; });
    statusLine.textContent = "Saving…";
    statusLine.className = "";
    token().then(function (jwt) {
      return fetch(form.getAttribute("data-save-url"), {
        method: "POST",
        headers: { "Authorization": "JWT " + jwt, "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      });
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      if (result.status === 200) {
        showErrors({});
        statusLine.textContent = "Saved. Macros use the new settings on their next render.";
        statusLine.className = "saved";
      } else {
        showErrors(result.data.errors || {});
        statusLine.textContent = result.data.message || "Could not save.";
        statusLine.className = "failed";
      }
    }).catch(function (error) {
      statusLine.textContent = error.message;
      statusLine.className = "failed";
    });
  });
})();
