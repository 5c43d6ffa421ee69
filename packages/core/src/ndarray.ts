/** A dense row-major array whose axes are named dims: what `interpret` and `simulate` move. */
export interface NDArray {
  readonly dims: readonly string[];
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** A dense float64 array with named dims, zero-filled unless data is given. */
export function ndarray(
  dims: readonly string[],
  shape: readonly number[],
  data?: ArrayLike<number>,
) {
  const n = shape.reduce((a, b) => a * b, 1);
  const buf = new Float64Array(n);
  if (data) {
    if (data.length !== n) {
      throw new RangeError(`array of ${data.length} values for shape [${shape}] (${n} values)`);
    }
    buf.set(data);
  }
  return { dims, shape, data: buf } satisfies NDArray;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * Visits every index of a loop nest over `sizes`, keeping one running flat offset per tensor
 * (`strides[t][j]` is tensor t's stride along loop dim j, 0 where it lacks the dim).
 */
export function forEachIndex(
  sizes: readonly number[],
  strides: readonly (readonly number[])[],
  visit: (offsets: Int32Array) => void,
): void {
  const rank = sizes.length;
  const total = sizes.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const idx = new Int32Array(rank);
  const offsets = new Int32Array(strides.length);
  for (let n = 0; n < total; n++) {
    visit(offsets);
    for (let j = rank - 1; j >= 0; j--) {
      idx[j]!++;
      for (let t = 0; t < strides.length; t++) offsets[t]! += strides[t]![j]!;
      if (idx[j]! < sizes[j]!) break;
      for (let t = 0; t < strides.length; t++) offsets[t]! -= strides[t]![j]! * sizes[j]!;
      idx[j] = 0;
    }
  }
}

/** Strides of `a` along each of `loopDims` (0 where `a` lacks the dim: broadcast). */
export function stridesAlong(a: Pick<NDArray, "dims" | "shape">, loopDims: readonly string[]) {
  const own = stridesOf(a.shape);
  return loopDims.map((d) => {
    const i = a.dims.indexOf(d);
    return i < 0 ? 0 : own[i]!;
  });
}

/** `a` laid out in the order of `dims` (a subset of them may be broadcast from absence). */
export function layout(a: NDArray, dims: readonly string[], shape: readonly number[]): NDArray {
  const out = ndarray(dims, shape);
  const src = stridesAlong(a, dims);
  const dst = stridesOf(shape);
  forEachIndex(shape, [src, dst], (o) => {
    out.data[o[1]!] = a.data[o[0]!]!;
  });
  return out;
}

export function sizeAlong(a: Pick<NDArray, "dims" | "shape">, dim: string): number {
  const i = a.dims.indexOf(dim);
  if (i < 0) throw new RangeError(`array has no dim ${dim}`);
  return a.shape[i]!;
}
