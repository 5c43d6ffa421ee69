/** S21 (seed 003): FFN 1D vs 2D weight-stationary, traced and lowered from 8 to 256 v5e chips. */
import { LLAMA3_70B } from "@shardcost/ops";
import { mlpLayoutStudy } from "@shardcost/serving";
import { describe, expect, it } from "vitest";

describe("S21: 1D vs 2D weight-stationary", () => {
  const rows = mlpLayoutStudy(LLAMA3_70B, 512, "v5e");
  const comm = (layout: string) => rows.filter((r) => r.layout === layout).map((r) => r.commS);
  const chips = rows.filter((r) => r.layout === "1d-ws").map((r) => r.chips);

  it("spans 8 to 256 chips", () => {
    expect(chips).toEqual([8, 16, 32, 64, 128, 256]);
  });

  it("1D comm time per layer does not shrink with the chip count", () => {
    const one = comm("1d-ws");
    for (let i = 1; i < one.length; i++) expect(one[i]!).toBeGreaterThanOrEqual(one[i - 1]! * 0.99);
  });

  it("2D comm time falls about as 1/√N", () => {
    const two = comm("2d-ws");
    for (let i = 1; i < two.length; i++) expect(two[i]!).toBeLessThanOrEqual(two[i - 1]! * 1.01);
    // 64 → 256 chips: √4 = 2× less (±25%).
    const at = (n: number) => two[chips.indexOf(n)]!;
    expect(at(64) / at(256)).toBeGreaterThan(1.5);
    expect(at(64) / at(256)).toBeLessThan(2.5);
  });

  it("the layouts cross between 16 and 256 chips, and 2D stays ahead after", () => {
    const one = comm("1d-ws");
    const two = comm("2d-ws");
    const first = chips.findIndex((_, i) => two[i]! < one[i]!);
    expect(chips[first]).toBeGreaterThan(16);
    expect(chips[first]).toBeLessThanOrEqual(256);
    for (let i = first; i < chips.length; i++) expect(two[i]!).toBeLessThan(one[i]!);
  });
});
