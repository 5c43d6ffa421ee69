/**
 * Element types. Each has a storage size (int4 packs two to a byte) and the FLOP/s column of a
 * chip that computes in it (see `hardware.ts`).
 */
export type DType = "f32" | "bf16" | "f16" | "fp8e4m3" | "fp8e5m2" | "int8" | "int4" | "int32";

/** The FLOP/s column a dtype computes at. f16 runs at the bf16 rate on every catalogued chip. */
export type ComputeClass = "f32" | "bf16" | "fp8" | "int8" | "int4";

interface DTypeInfo {
  readonly bits: number;
  readonly compute: ComputeClass;
  readonly float: boolean;
}

const dtypeInfo: { readonly [D in DType]: DTypeInfo } = {
  f32: { bits: 32, compute: "f32", float: true },
  bf16: { bits: 16, compute: "bf16", float: true },
  f16: { bits: 16, compute: "bf16", float: true },
  fp8e4m3: { bits: 8, compute: "fp8", float: true },
  fp8e5m2: { bits: 8, compute: "fp8", float: true },
  int8: { bits: 8, compute: "int8", float: false },
  int4: { bits: 4, compute: "int4", float: false },
  // Indices (token ids, cache positions); arithmetic on them is counted at the f32 rate.
  int32: { bits: 32, compute: "f32", float: false },
};

/** Every dtype the notation accepts, in the catalog's order. */
export const DTYPES: readonly DType[] = Object.keys(dtypeInfo) as DType[];

/** Whether `s` names a dtype (`bf16`, `int8`, …). */
export function isDType(s: string): s is DType {
  return Object.hasOwn(dtypeInfo, s);
}

/** Bytes one element occupies (0.5 for int4). */
export function byteSize(dtype: DType): number {
  return dtypeInfo[dtype].bits / 8;
}

/** Bits of one element of `dtype`. */
export function bitsOf(dtype: DType): number {
  return dtypeInfo[dtype].bits;
}

/** Bytes of `count` elements, rounded up to whole bytes (odd int4 counts pad one nibble). */
export function bytesOf(dtype: DType, count: number): number {
  return Math.ceil((count * dtypeInfo[dtype].bits) / 8);
}

/** The class of peak FLOP/s a dtype computes at on a chip (e.g. int8 matmuls at the int8 peak). */
export function computeClass(dtype: DType): ComputeClass {
  return dtypeInfo[dtype].compute;
}

/** Whether a dtype is floating point (not an integer type). */
export function isFloat(dtype: DType): boolean {
  return dtypeInfo[dtype].float;
}

/** Higher is wider; used to pick the compute dtype of mixed einsums. */
export function precisionRank(dtype: DType): number {
  const order: readonly DType[] = [
    "int4",
    "int8",
    "fp8e5m2",
    "fp8e4m3",
    "int32",
    "bf16",
    "f16",
    "f32",
  ];
  return order.indexOf(dtype);
}
