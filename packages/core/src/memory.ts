/** What one chip holds at the step's peak, against its HBM. */
export interface MemoryEstimate {
  readonly paramBytes: number;
  readonly cacheBytes: number;
  /** Peak bytes of activations live at once (inputs, intermediates written to HBM, outputs). */
  readonly activationBytes: number;
  readonly totalBytes: number;
  readonly capacityBytes: number;
  readonly fits: boolean;
  /** capacity − total: how much room is left, negative by how much it misses. */
  readonly headroomBytes: number;
}

/** The verdict on what a chip holds: total, whether it fits and by how much (the one place). */
export function memoryVerdict(
  held: {
    readonly paramBytes: number;
    readonly cacheBytes: number;
    readonly activationBytes: number;
  },
  capacityBytes: number,
): MemoryEstimate {
  const totalBytes = held.paramBytes + held.cacheBytes + held.activationBytes;
  return {
    paramBytes: held.paramBytes,
    cacheBytes: held.cacheBytes,
    activationBytes: held.activationBytes,
    totalBytes,
    capacityBytes,
    fits: totalBytes <= capacityBytes,
    headroomBytes: capacityBytes - totalBytes,
  };
}
