export type { Axis, ResolvedLayout, StepShape } from "./axes.js";
export {
  type BaseLayoutName,
  isLayoutName,
  LAYOUTS,
  type LayoutName,
  type LayoutPreset,
  layoutPreset,
  resolveLayout,
} from "./presets.js";
