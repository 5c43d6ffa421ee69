export * from "./analysis.js";
export * from "./engine.js";
export * from "./layouts/index.js";
