#!/usr/bin/env node
// The built CLI (packages/cli/dist), compiled by `npm ci` (the root `prepare` script). The
// source lines of built-in models point at their TypeScript through the `.map` files beside the
// built ones, read only for the lines a report names (`main` installs the mapping).
const { run } = await import("../dist/run.js");
process.exitCode = await run(process.argv.slice(2));
