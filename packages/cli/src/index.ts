export * from "./args.js";
export * from "./html.js";
export * from "./load-ts.js";
export * from "./main.js";
export * from "./report.js";
export * from "./setup.js";
export * from "./sweep.js";
export * from "./timeline.js";
