export type { Axis, ResolvedLayout, StepShape } from "./axes.js";
export {
  type BaseLayoutName,
  isLayoutName,
  LAYOUTS,
  type LayoutName,
  type LayoutPreset,
  resolveLayout,
} from "./presets.js";
