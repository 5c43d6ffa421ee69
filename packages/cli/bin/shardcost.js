#!/usr/bin/env node
// The built CLI (packages/cli/dist), compiled by `npm ci` (the root `prepare` script). Source
// maps on, so the source lines of built-in models point at their TypeScript.
process.setSourceMapsEnabled(true);
const { run } = await import("../dist/run.js");
process.exitCode = await run(process.argv.slice(2));
