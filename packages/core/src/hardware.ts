import type { ComputeClass } from "./dtype.js";
import { ShardcostError } from "./errors.js";

/**
 * How a chip's links connect: TPUs as tori (2D for v5e/v6e, 3D for v4/v5p) whose axes wrap
 * around only at some lengths; GPUs as NVLink domains with slower links between them.
 */
export type Topology =
  | {
      readonly kind: "torus";
      readonly rank: 2 | 3;
      /** Largest slice: a pod's axis lengths, longest last (v5p: 16x20x28). */
      readonly pod: readonly number[];
      /**
       * Which axes have wraparound links: v5e/v6e only an axis as long as the pod's; v4/v5p
       * every axis of a slice made of whole 4x4x4 cubes (a 2x2x4 has none).
       */
      readonly wraps: "full-axis-only" | "whole-cubes";
    }
  | {
      readonly kind: "nvlink";
      /** GPUs in one NVLink domain (a node). */
      readonly domain: number;
      /** Bytes/s per node, one way, to the scale-out network. */
      readonly scaleOutBandwidth: number;
    }
  | { readonly kind: "pcie" };

/**
 * A chip as data: peak FLOP/s per compute class, HBM size and bandwidth, links and their topology,
 * hop latency and price, each with its source.
 */
export interface Chip {
  readonly name: string;
  readonly vendor: "google" | "nvidia";
  /** Peak dense FLOP/s (OP/s for ints) per compute class; see `peakFlops` for fallbacks. */
  readonly flops: Readonly<Partial<Record<ComputeClass, number>>>;
  readonly hbmBytes: number;
  /** HBM bytes/s. */
  readonly hbmBandwidth: number;
  /** Bytes/s one way on one link (TPU ICI) or per GPU into its NVLink domain. */
  readonly linkBandwidth: number;
  /** Seconds per hop of a collective. */
  readonly hopLatency: number;
  readonly topology: Topology;
  /** On-demand US$ per chip-hour, where public. */
  readonly pricePerHour?: number;
}

const US = 1e-6;

/** Where the catalog's figures come from, as the report states it. */
export const CATALOG_SOURCES =
  "How to Scale Your Model (Austin et al.), chapters 'tpus' and 'gpus' (chip specs, ICI and " +
  "NVLink bandwidth, the v5e/v6e wraparound rule); vendor data sheets where the book gives no " +
  "figure; prices: Google Cloud on-demand list prices (Feb 2025) as the book quotes them";

/**
 * The catalog. Sources: *How to Scale Your Model* (Austin et al.), chapters "tpus" and "gpus"
 * (tables of chip specs, ICI and NVLink bandwidth, the v5e/v6e wraparound rule); vendor data
 * sheets where the book gives no figure (noted per entry). Prices: Google Cloud on-demand list
 * prices (Feb 2025) as the book quotes them.
 */
export const CHIPS = {
  // Book "tpus": 1.97e14 bf16, 3.94e14 int8, 16 GB at 8.1e11 (roofline code: 8.2e11),
  // ICI 4.5e10 B/s one way per link, 2D torus 16x16, wraparound only on full axes of 16.
  v5e: {
    name: "TPU v5e",
    vendor: "google",
    flops: { bf16: 1.97e14, int8: 3.94e14 },
    hbmBytes: 16e9,
    hbmBandwidth: 8.2e11,
    linkBandwidth: 4.5e10,
    hopLatency: 1 * US,
    topology: { kind: "torus", rank: 2, pod: [16, 16], wraps: "full-axis-only" },
    pricePerHour: 1.2,
  },
  // Book "tpus": 9.2e14 bf16, 1.84e15 int8, 32 GB at 1.6e12, ICI 9e10 one way; as v5e.
  v6e: {
    name: "TPU v6e",
    vendor: "google",
    flops: { bf16: 9.2e14, int8: 1.84e15 },
    hbmBytes: 32e9,
    hbmBandwidth: 1.6e12,
    linkBandwidth: 9e10,
    hopLatency: 1 * US,
    topology: { kind: "torus", rank: 2, pod: [16, 16], wraps: "full-axis-only" },
    pricePerHour: 2.7,
  },
  // Book "tpus": 2.75e14 bf16 (int8 at the same rate), 32 GB at 1.2e12, ICI 4.5e10 one way,
  // 3D torus; wraparound on axes that are multiples of 4 (full cubes). Price: GCP list $3.22.
  v4: {
    name: "TPU v4",
    vendor: "google",
    flops: { bf16: 2.75e14, int8: 2.75e14 },
    hbmBytes: 32e9,
    hbmBandwidth: 1.2e12,
    linkBandwidth: 4.5e10,
    hopLatency: 1 * US,
    topology: { kind: "torus", rank: 3, pod: [16, 16, 16], wraps: "whole-cubes" },
    pricePerHour: 3.22,
  },
  // Book "tpus": 4.59e14 bf16, 9.18e14 int8, 96 GB at 2.8e12, ICI 9e10 one way, 3D torus.
  v5p: {
    name: "TPU v5p",
    vendor: "google",
    flops: { bf16: 4.59e14, int8: 9.18e14 },
    hbmBytes: 96e9,
    hbmBandwidth: 2.8e12,
    linkBandwidth: 9e10,
    hopLatency: 1 * US,
    topology: { kind: "torus", rank: 3, pod: [16, 20, 28], wraps: "whole-cubes" },
    pricePerHour: 4.2,
  },
  // NVIDIA A10 data sheet: 125 TFLOP/s bf16 dense, 250 TOPS int8, 24 GB GDDR6 at 600 GB/s;
  // PCIe Gen4 x16 only (≈32 GB/s one way).
  a10: {
    name: "A10",
    vendor: "nvidia",
    flops: { f32: 3.125e13, bf16: 1.25e14, int8: 2.5e14 },
    hbmBytes: 24e9,
    hbmBandwidth: 6.0e11,
    linkBandwidth: 3.2e10,
    hopLatency: 5 * US,
    topology: { kind: "pcie" },
  },
  // Book "gpus": A100 SXM 80 GB: 3.12e14 bf16, 6.24e14 int8, 2.0e12 B/s HBM2e,
  // NVLink 3: 300 GB/s per GPU each way; 8-GPU nodes; TF32 1.56e14 (f32 matmul default).
  // "80 GB" is 80 GiB of HBM (nvidia-smi: 81920 MiB).
  a100: {
    name: "A100",
    vendor: "nvidia",
    flops: { f32: 1.56e14, bf16: 3.12e14, int8: 6.24e14 },
    hbmBytes: 80 * 2 ** 30,
    hbmBandwidth: 2.0e12,
    linkBandwidth: 3.0e11,
    hopLatency: 1 * US,
    topology: { kind: "nvlink", domain: 8, scaleOutBandwidth: 2.0e11 },
  },
  // Book "gpus": H100 SXM: 9.9e14 bf16, 1.98e15 fp8/int8, 80 GB at 3.35e12, NVLink 4:
  // 450 GB/s per GPU each way; 400 GB/s per node scale-out (8×400 Gb/s NICs). TF32 4.95e14.
  // 80 GiB of HBM3 (the "80 GB" of the data sheet).
  h100: {
    name: "H100",
    vendor: "nvidia",
    flops: { f32: 4.95e14, bf16: 9.9e14, fp8: 1.98e15, int8: 1.98e15 },
    hbmBytes: 80 * 2 ** 30,
    hbmBandwidth: 3.35e12,
    linkBandwidth: 4.5e11,
    hopLatency: 1 * US,
    topology: { kind: "nvlink", domain: 8, scaleOutBandwidth: 4.0e11 },
    pricePerHour: 10.8,
  },
  // Book "gpus": H200: H100 compute with 141 GB of HBM3e at 4.8e12 B/s.
  h200: {
    name: "H200",
    vendor: "nvidia",
    flops: { f32: 4.95e14, bf16: 9.9e14, fp8: 1.98e15, int8: 1.98e15 },
    hbmBytes: 141e9,
    hbmBandwidth: 4.8e12,
    linkBandwidth: 4.5e11,
    hopLatency: 1 * US,
    topology: { kind: "nvlink", domain: 8, scaleOutBandwidth: 4.0e11 },
  },
  // Book "gpus": B200: 2.3e15 bf16, 4.5e15 fp8, 192 GB at 8e12, NVLink 5: 900 GB/s each way.
  b200: {
    name: "B200",
    vendor: "nvidia",
    flops: { f32: 1.15e15, bf16: 2.3e15, fp8: 4.5e15, int8: 4.5e15 },
    hbmBytes: 192e9,
    hbmBandwidth: 8.0e12,
    linkBandwidth: 9.0e11,
    hopLatency: 1 * US,
    topology: { kind: "nvlink", domain: 8, scaleOutBandwidth: 4.0e11 },
  },
} as const satisfies Record<string, Chip>;

/** The names of the chips in the catalog (`v5e`, `h100`, …). */
export type ChipName = keyof typeof CHIPS;

/**
 * The catalog entry for `name` (case-insensitive); an unknown name is a typed error listing the
 * chips.
 */
export function chip(name: string): Chip {
  const key = name.toLowerCase();
  const c = Object.hasOwn(CHIPS, key) ? (CHIPS as Record<string, Chip>)[key] : undefined;
  if (!c) {
    throw new ShardcostError(
      "hardware",
      `unknown chip "${name}"; known chips: ${Object.keys(CHIPS).join(", ")}`,
    );
  }
  return c;
}

/**
 * Peak FLOP/s for a compute class. A class the chip lacks runs at the next class it has:
 * int4 → int8 (no catalogued chip lists a faster dense int4 rate), fp8 → bf16 (v5e and v4 have
 * no fp8 units; XLA upcasts), f32 → bf16 on TPUs (JAX's default matmul precision on TPU is one
 * bf16 pass) and TF32 on GPUs (listed as f32).
 */
const FALLBACK: Readonly<Record<ComputeClass, readonly ComputeClass[]>> = {
  int4: ["int4", "int8", "bf16"],
  int8: ["int8", "bf16"],
  fp8: ["fp8", "bf16"],
  bf16: ["bf16"],
  f32: ["f32", "bf16"],
};

/** A chip's peak FLOP/s for a compute class. */
export function peakFlops(c: Chip, cls: ComputeClass): number {
  for (const k of FALLBACK[cls]) {
    const f = c.flops[k];
    if (f !== undefined) return f;
  }
  throw new ShardcostError("hardware", `${c.name} lists no FLOP/s for ${cls}`);
}

/** What a chip's collectives run on, as its vendor names it: "ICI", "NVLink/network", "PCIe". */
export function linkName(c: Chip): string {
  const kind = c.topology.kind;
  switch (kind) {
    case "torus":
      return "ICI";
    case "nvlink":
      return "NVLink/network";
    case "pcie":
      return "PCIe";
    default:
      return kind satisfies never;
  }
}

/**
 * Fractions of peak a deployment reaches: model FLOPs utilisation, and the share of HBM and
 * link (ICI, NVLink, network) bandwidth it achieves. Every estimate is a roofline at these.
 */
export interface Efficiency {
  readonly mfu: number;
  readonly hbm: number;
  readonly ici: number;
}

/** 100% of peak: the roofline lower bound. */
export const PEAK_EFFICIENCY: Efficiency = { mfu: 1, hbm: 1, ici: 1 };

/**
 * The chip as it runs at `e` of its peak figures: every FLOP/s class scaled by the MFU, HBM
 * bandwidth by the HBM efficiency, every link (and a GPU node's scale-out) by the ICI one. The
 * one place efficiencies apply: a mesh built on the derated chip costs everything with them.
 */
export function derate(c: Chip, e: Efficiency): Chip {
  if (e.mfu === 1 && e.hbm === 1 && e.ici === 1) return c;
  const flops: Partial<Record<ComputeClass, number>> = {};
  for (const [k, v] of Object.entries(c.flops) as [ComputeClass, number][]) flops[k] = v * e.mfu;
  const topology: Topology =
    c.topology.kind === "nvlink"
      ? { ...c.topology, scaleOutBandwidth: c.topology.scaleOutBandwidth * e.ici }
      : c.topology;
  return {
    ...c,
    flops,
    hbmBandwidth: c.hbmBandwidth * e.hbm,
    linkBandwidth: c.linkBandwidth * e.ici,
    topology,
  };
}
