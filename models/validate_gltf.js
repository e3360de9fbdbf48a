// Validate .glb files with the Khronos glTF validator (npm package gltf-validator).
//
//   node models/validate_gltf.js FILE.glb [...]
//
// Prints one JSON object: {"<file>": {"numErrors", "numWarnings", "messages": [...]}} and
// exits 0 (the caller decides what counts as a failure). The validator is looked up in the
// repository's node_modules (./dev setup installs it there).
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const validator = require(path.join(root, "node_modules", "gltf-validator"));

async function main(files) {
  const out = {};
  for (const file of files) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(bytes, { maxIssues: 50 });
    out[file] = {
      numErrors: report.issues.numErrors,
      numWarnings: report.issues.numWarnings,
      messages: report.issues.messages.map((m) => `${m.severity} ${m.code} ${m.pointer || ""}: ${m.message}`),
    };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});
