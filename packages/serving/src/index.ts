export * from "./analysis.js";
export * from "./layouts.js";
export * from "./engine.js";
