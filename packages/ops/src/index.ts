export * from "./constrain.js";
export * from "./einsum.js";
export * from "./elementwise.js";
export * from "./models/config.js";
export * from "./models/llama.js";
export * from "./models/moe.js";
export * from "./nn.js";
export * from "./structural.js";
