"use strict";
// The atlassian-connect-express (ACE) side of benchmarks/vs_ace.py: the smallest app that does what a
// Connect iframe route must do - check the JWT (signature, expiry, qsh), look the tenant up in the store,
// and render a small page. ACE itself registers GET /atlassian-connect.json and POST /installed
// (signed install). Everything listens on 127.0.0.1 only.
//
// Environment (vs_ace.py sets them):
//   ACE_PORT              the app's port (default 39100)
//   ACE_DB                the SQLite file of ACE's store (default .run/ace.db beside this file)
//   CONNECT_KEYS_CDN_URL  read by ACE: where it fetches install public keys by kid. Required, and must be
//                         a loopback URL, so that no install ever reaches Atlassian's CDN.
//   NODE_ENV              production (ACE then only accepts *.atlassian.net tenants)

const fs = require("fs");
const path = require("path");

// ACE reads atlassian-connect.json from the working directory.
process.chdir(__dirname);

const keysUrl = process.env.CONNECT_KEYS_CDN_URL || "";
if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(keysUrl)) {
  console.error("CONNECT_KEYS_CDN_URL must be http://127.0.0.1:<port> (the benchmark's key server)");
  process.exit(2);
}

const express = require("express");
const ace = require("atlassian-connect-express");

const HOST = "127.0.0.1";
const PORT = Number(process.env.ACE_PORT || 39100);
const BASE_URL = `http://${HOST}:${PORT}`;
const DB = process.env.ACE_DB || path.join(__dirname, ".run", "ace.db");
fs.mkdirSync(path.dirname(DB), { recursive: true });

const settings = {
  port: PORT,
  localBaseUrl: BASE_URL,
  product: "confluence",
  store: { adapter: "sequelize", dialect: "sqlite", storage: DB, logging: false },
  watch: false, // do not watch the descriptor
  validateDescriptor: false, // validation downloads a schema
  expressErrorHandling: false,
  errorTemplate: false
};

const app = express();
app.disable("x-powered-by");
// ACE looks for a token in req.body even on GET, so the body parsers must run first.
app.use(express.json());
app.use(express.urlencoded({ extended: false }));

const addon = ace(app, { config: { development: settings, production: settings } });

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = value => String(value == null ? "" : value).replace(/[&<>"']/g, c => ENTITIES[c]);

function render(res, title, fields) {
  const rows = Object.entries(fields)
    .map(([name, value]) => `<li>${escape(name)}: ${escape(value)}</li>`)
    .join("");
  res.set("Cache-Control", "no-store");
  res.type("html").send(
    `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
      `<body><h1>${escape(title)}</h1><ul>${rows}</ul></body></html>`
  );
}

// addon.authenticate() has already checked the token; the page still needs the tenant's stored record.
function page(title, fieldsOf) {
  return async (req, res, next) => {
    try {
      const clientKey = req.context && req.context.clientKey;
      const tenant = clientKey ? await addon.settings.get("clientInfo", clientKey) : null;
      if (!tenant) {
        res.status(401).type("text").send("unknown tenant");
        return;
      }
      render(res, title, fieldsOf(req, tenant));
    } catch (error) {
      next(error);
    }
  };
}

app.get("/healthz", (req, res) => res.type("text").send("ok"));

app.get(
  "/macro",
  addon.authenticate(),
  page("Macro", (req, tenant) => ({
    site: tenant.baseUrl,
    page: req.query.pageId,
    macro: req.query.macroId
  }))
);

app.get(
  "/config",
  addon.authenticate(),
  page("Configuration", (req, tenant) => ({ site: tenant.baseUrl, user: req.context.userAccountId }))
);

app.use((error, req, res, next) => {
  console.error("error:", error && error.stack ? error.stack : error);
  if (res.headersSent) return next(error);
  res.status(500).type("text").send("internal error");
});

const server = app.listen(PORT, HOST, () => console.log(`ACE app on ${BASE_URL}, keys from ${keysUrl}`));
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
