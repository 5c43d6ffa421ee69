export * from "./analysis.js";
export * from "./layouts.js";
