// The host side of the AP bridge: answers postMessage requests from the app iframes on this page.
// A message is accepted only from an iframe of this page, from that iframe's app origin, on its channel.
(function () {
  "use strict";
  var script = document.currentScript;
  var viewer = script ? script.getAttribute("data-viewer-account-id") : "";

  function frameFor(source) {
    var frames = document.querySelectorAll("iframe.ap-iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === source) { return frames[i]; }
    }
    return null;
  }

  function size(value) {
    if (value === undefined || value === null || value === "") { return null; }
    return typeof value === "number" || /^\d+$/.test(String(value)) ? value + "px" : String(value);
  }

  window.addEventListener("message", function (event) {
    var frame = frameFor(event.source);
    if (!frame || event.origin !== frame.dataset.apOrigin) { return; }
    var msg = event.data;
    if (!msg || typeof msg !== "object" || msg.channel !== frame.dataset.apChannel) { return; }
    function reply(fields) {
      var out = { channel: msg.channel, id: msg.id, type: "response" };
      for (var k in fields) { out[k] = fields[k]; }
      event.source.postMessage(out, frame.dataset.apOrigin);
    }
    switch (msg.type) {
      case "resize": {
        var w = size(msg.width), h = size(msg.height);
        if (w) { frame.style.width = w; }
        if (h) { frame.style.height = h; }
        frame.setAttribute("data-ap-resized", String(h || w));
        break;
      }
      case "sizeToParent":
        frame.style.width = "100%";
        frame.style.height = Math.max(frame.parentElement.clientHeight, window.innerHeight - 120) + "px";
        frame.setAttribute("data-ap-resized", frame.style.height);
        break;
      case "getToken":
        fetch("/wiki/_emulator/context-token", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            appKey: frame.dataset.apAppKey, moduleKey: frame.dataset.apModuleKey,
            pageId: frame.dataset.apPageId, spaceKey: frame.dataset.apSpaceKey, accountId: viewer
          })
        }).then(function (r) { return r.json(); })
          .then(function (data) { reply(data.token ? { result: data.token } : { error: data.error || "no token" }); },
                function (err) { reply({ error: String(err) }); });
        break;
      case "getContext":
        reply({ result: JSON.parse(frame.dataset.apContext || "{}") });
        break;
      case "navigate": {
        var ctx = msg.context || {};
        if (msg.target === "contentview" || msg.target === "contentedit") {
          window.location.href = "/wiki/pages/viewpage.action?pageId=" + encodeURIComponent(ctx.contentId || "");
        } else if (msg.target === "addonmodule" && ctx.addonKey && ctx.moduleKey) {
          window.location.href = "/wiki/plugins/servlet/ac/" + encodeURIComponent(ctx.addonKey) + "/" +
            encodeURIComponent(ctx.moduleKey);
        } else {
          window.location.href = "/wiki/";
        }
        break;
      }
      default:
        break;
    }
  });
})();
