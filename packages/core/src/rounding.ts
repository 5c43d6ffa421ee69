import type { DType } from "./dtype.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round to the nearest bfloat16 (ties to even), as hardware does on a bf16 store. */
export function roundBf16(x: number): number {
  if (!Number.isFinite(x)) return x;
  f32[0] = x;
  const bits = u32[0]!;
  const lsb = (bits >>> 16) & 1;
  u32[0] = ((bits + 0x7fff + lsb) >>> 16) << 16;
  return f32[0]!;
}

/**
 * Round to a binary float with `mantissa` stored bits, smallest normal exponent `minExp` and
 * largest finite value `max` (ties to even; subnormals kept; overflow saturates when
 * `saturate`, else goes to ±Infinity).
 */
export function roundFloat(
  x: number,
  mantissa: number,
  minExp: number,
  max: number,
  saturate: boolean,
): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), minExp);
  const quantum = 2 ** (e - mantissa);
  const scaled = x / quantum;
  let r = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5 && r % 2 !== 0) r -= 1; // ties to even
  const y = r * quantum;
  if (Math.abs(y) > max) return saturate ? Math.sign(y) * max : Math.sign(y) * Infinity;
  return y;
}

function roundInt(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.min(hi, Math.max(lo, Math.round(x)));
}

/** The value a `dtype` store of `x` holds. */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case "f32":
      return Math.fround(x);
    case "bf16":
      return roundBf16(x);
    case "f16":
      return roundFloat(x, 10, -14, 65504, false);
    case "fp8e4m3":
      return roundFloat(x, 3, -6, 448, true);
    case "fp8e5m2":
      return roundFloat(x, 2, -14, 57344, true);
    case "int8":
      return roundInt(x, -128, 127);
    case "int4":
      return roundInt(x, -8, 7);
    case "int32":
      return roundInt(x, -(2 ** 31), 2 ** 31 - 1);
    default:
      return dtype satisfies never;
  }
}

export function roundArray(dtype: DType, data: Float64Array): void {
  for (let i = 0; i < data.length; i++) data[i] = roundTo(dtype, data[i]!);
}
