#!/usr/bin/env node
// The built CLI (packages/cli/dist), compiled by `npm ci` (the root `prepare` script). Source
// maps on, so the source lines of built-in models point at their TypeScript.
process.setSourceMapsEnabled(true);
const { main } = await import("../dist/main.js");
process.exitCode = await main(process.argv.slice(2));
