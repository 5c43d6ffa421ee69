#!/usr/bin/env node
// Builds the compiler's start-up snapshot model files compile from (run by the root `prepare`
// script, after the packages are built). Never fails an install: without a snapshot, model
// files are compiled in-process.
const { buildSnapshot } = await import("../dist/snapshot.js");
const { packageEntries } = await import("../dist/model-compile.js");
console.log(buildSnapshot(packageEntries()));
