export * from "./collective-cost.js";
export * from "./lower.js";
export * from "./mesh.js";
export * from "./reshard.js";
export * from "./rules.js";
export * from "./simulate.js";
export * from "./sizes.js";
