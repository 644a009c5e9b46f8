#!/usr/bin/env node
// Validate Forge manifests with @forge/manifest's full validation chain: the schema, then every
// semantic validator (connect modules, remotes, permissions, ...) that `forge lint` runs.
//
//   node tools/forge-validate/validate.js MANIFEST.yml [MORE.yml ...]
//
// Prints one JSON line per manifest: {"path", "success", "errors": [{level, message, reference, line}]}.
// Exits 0 when every manifest passed, 1 when any failed, 2 when the validator itself could not run.
// Several manifests share one process because loading the validator and its schema takes seconds.
'use strict';

const path = require('node:path');

async function main(paths) {
  if (paths.length === 0) {
    process.stderr.write('usage: validate.js MANIFEST.yml [MORE.yml ...]\n');
    return 2;
  }
  const { validate } = require('@forge/manifest');
  let allPassed = true;
  for (const manifest of paths) {
    // false = the FULL chain, not the basic one (schema only)
    const result = await validate(false, path.resolve(manifest));
    const errors = (result.errors || []).map((e) => ({
      level: e.level,
      message: e.message,
      reference: e.reference,
      line: e.line,
    }));
    // A manifest passes only if the chain said so AND reported no error-level finding.
    const success = result.success === true && !errors.some((e) => e.level === 'error');
    allPassed = allPassed && success;
    process.stdout.write(JSON.stringify({ path: manifest, success, errors }) + '\n');
  }
  return allPassed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`validator crashed: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 2;
  },
);
