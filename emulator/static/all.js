// A small stand-in for Atlassian Connect's all.js: defines window.AP inside an app iframe and talks to the
// host page with postMessage. The host origin comes from the iframe URL's xdm_e parameter and every message
// carries the xdm_c channel, so several iframes on one page never mix their traffic.
(function () {
  "use strict";
  if (window.AP) { return; }
  var params = new URLSearchParams(window.location.search);
  var hostOrigin = params.get("xdm_e") || "";
  var channel = params.get("xdm_c") || "";
  var script = document.currentScript;
  var options = script ? (script.getAttribute("data-options") || "") : "";
  var seq = 0;
  var pending = {};

  function send(type, fields) {
    var msg = { channel: channel, type: type };
    for (var k in fields || {}) { msg[k] = fields[k]; }
    if (window.parent && window.parent !== window && hostOrigin) { window.parent.postMessage(msg, hostOrigin); }
  }

  function call(type, fields) {
    return new Promise(function (resolve, reject) {
      var id = "ap-" + (++seq);
      pending[id] = { resolve: resolve, reject: reject };
      var out = { id: id };
      for (var k in fields || {}) { out[k] = fields[k]; }
      send(type, out);
    });
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== hostOrigin) { return; }
    var msg = event.data;
    if (!msg || msg.channel !== channel || !pending[msg.id]) { return; }
    var p = pending[msg.id];
    delete pending[msg.id];
    if (msg.error) { p.reject(new Error(msg.error)); } else { p.resolve(msg.result); }
  });

  function withCallback(promise, callback) {
    if (typeof callback === "function") {
      promise.then(function (value) { callback(value); }, function () { callback(undefined); });
    }
    return promise;
  }

  window.AP = {
    resize: function (width, height) {
      send("resize", { width: width === undefined ? "100%" : width, height: height });
    },
    sizeToParent: function () { send("sizeToParent", {}); },
    context: {
      getToken: function (callback) { return withCallback(call("getToken", {}), callback); },
      getContext: function (callback) { return withCallback(call("getContext", {}), callback); }
    },
    navigator: {
      go: function (target, context) { send("navigate", { target: target, context: context || {} }); }
    }
  };

  // Automatic resizing to the height of .ac-content (or the body), unless data-options="resize:false".
  if (!/resize\s*:\s*false/.test(options) && typeof ResizeObserver === "function") {
    var start = function () {
      var el = document.querySelector(".ac-content") || document.body;
      var last = -1;
      var observer = new ResizeObserver(function () {
        var h = Math.ceil(el.getBoundingClientRect().height);
        if (h !== last) { last = h; send("resize", { width: "100%", height: h }); }
      });
      observer.observe(el);
    };
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
  }
})();
