import { CHIPS, ShardcostError } from "@shardcost/core";
import { mesh, parseMeshShape } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";

describe("meshes", () => {
  it("v5e and v6e wrap around only on axes of 16", () => {
    const m = mesh("v5e", { X: 16, Y: 4 });
    expect(m.chips).toBe(64);
    expect(m.axes.map((a) => [a.name, a.wraps])).toEqual([
      ["X", true],
      ["Y", false],
    ]);
    expect(mesh("v6e", { X: 8 }).axes[0]!.wraps).toBe(false);
  });

  it("v4 and v5p wrap only on slices of whole 4x4x4 cubes; a v5p pod is 16x20x28", () => {
    expect(mesh("v5p", { X: 4, Y: 8, Z: 4 }).axes.map((a) => a.wraps)).toEqual([true, true, true]);
    expect(mesh("v5p", { X: 4, Y: 8, Z: 2 }).axes.map((a) => a.wraps)).toEqual([
      false,
      false,
      false,
    ]);
    expect(mesh("v4", { X: 2, Y: 2, Z: 4 }).axes.map((a) => a.wraps)).toEqual([
      false,
      false,
      false,
    ]);
    expect(mesh("v5p", { X: 16, Y: 20, Z: 28 }).chips).toBe(8960);
    expect(mesh("v5p", { X: 28, Y: 16, Z: 20 }).chips).toBe(8960);
    expect(() => mesh("v5p", { X: 28, Y: 28, Z: 28 })).toThrow(
      /lies on a 28x28x28 slice, which does not fit in a TPU v5p pod \(16x20x28\)/,
    );
  });

  it("a 3-axis mesh on a 2D v5e torus lies on the chip's slice, axes filling its dimensions", () => {
    // 16 chips are a 4x4 slice: X and Y share its first dimension, Z is the second.
    const small = mesh("v5e", { X: 2, Y: 2, Z: 4 });
    expect(small.axes.map((a) => [a.name, a.physical, a.wraps])).toEqual([
      ["X", [0], false],
      ["Y", [0], false],
      ["Z", [1], false],
    ]);
    // 256 chips are the 16x16 pod: X on the first dimension, Y across both, Z on the second.
    expect(mesh("v5e", { X: 4, Y: 8, Z: 8 }).axes.map((a) => a.physical)).toEqual([
      [0],
      [0, 1],
      [1],
    ]);
    expect(mesh("v5e", { X: 16, Y: 16 }).axes.map((a) => a.wraps)).toEqual([true, true]);
    // 512 chips are more than a pod.
    expect(() => mesh("v5e", { X: 2, Y: 16, Z: 16 })).toThrow(/does not fit in a TPU v5e pod/);
  });

  it("GPU axes inside an 8-GPU node use NVLink; beyond it the scale-out network", () => {
    const m = mesh("h100", { X: 4, Y: 8 });
    expect(m.axes.map((a) => a.link)).toEqual(["scale-out", "nvlink"]);
    expect(m.axes[0]!.bandwidth).toBe(CHIPS.h100.topology.scaleOutBandwidth / 8);
    expect(mesh("h100", { X: 2, Y: 4 }).axes.map((a) => a.link)).toEqual(["nvlink", "nvlink"]);
  });

  it("one chip is a mesh", () => {
    expect(mesh("v5e", { X: 1 }).chips).toBe(1);
  });

  it("rejects bad axes with a typed error", () => {
    expect(() => mesh("v5e", { x: 2 })).toThrow(/axes are single capital letters/);
    expect(() => mesh("v5e", { X: 0 })).toThrow(ShardcostError);
    expect(() => mesh("v5e", { X: 32 })).toThrow(/longer than a TPU v5e pod's axis \(16\)/);
    expect(() => mesh("v9", { X: 2 })).toThrow(/unknown chip "v9"/);
    expect(parseMeshShape("4x2")).toEqual({ X: 4, Y: 2 });
    expect(() => parseMeshShape("4by2")).toThrow(/write AxB or AxBxC/);
  });
});
