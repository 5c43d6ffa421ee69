// The HTML report, opened in headless Chromium: it renders its charts offline without errors.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import packaged from "@sparticuz/chromium";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { ROOT, scratch, shardcost } from "./run.js";

/**
 * CHROMIUM_PATH if set, else the Chromium build inside the `@sparticuz/chromium` dev
 * dependency (installed by `npm ci`; no system package), unpacked on first use into
 * test/artifacts/chromium rather than the system temp dir.
 */
async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const dir = join(ROOT, "test/artifacts/chromium");
  mkdirSync(dir, { recursive: true });
  process.env.TMPDIR = dir;
  return packaged.executablePath();
}

describe("shardcost report", () => {
  it("writes one self-contained HTML file whose charts render in Chromium", async () => {
    const dir = scratch();
    const out = join(dir, "report.html");
    const r = shardcost([
      "report",
      "--model",
      "llama3-70b",
      "--weights",
      "int8",
      "--batch",
      "32",
      "--seq",
      "8192",
      "--mesh",
      "v5e:4x4",
      "--out",
      out,
    ]);
    expect(r.status).toBe(0);
    const html = readFileSync(out, "utf8");
    // Offline: no scripts, stylesheets or images fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, "")).not.toMatch(/https?:/);
    for (const title of [
      "Latency vs throughput",
      "Step-time breakdown by batch",
      "Step time by chip count",
      "Plan: llama3-70b on v5e",
      "Per-op table",
      "Assumptions",
    ]) {
      expect(html).toContain(title);
    }

    const browser = await chromium.launch({
      executablePath: await chromiumPath(),
      headless: true,
      args: packaged.args,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("request", (req) => {
        if (!req.url().startsWith("file:")) problems.push(`network request: ${req.url()}`);
      });
      await page.goto(pathToFileURL(out).href);
      const charts = await page.$$eval("svg.chart", (svgs) =>
        svgs.map((s) => {
          const box = s.getBoundingClientRect();
          return {
            title: s.getAttribute("aria-label"),
            width: box.width,
            height: box.height,
            marks: s.querySelectorAll("circle, rect.bar, path.series").length,
          };
        }),
      );
      expect(charts.map((c) => c.title)).toEqual([
        "Latency vs throughput (by batch)",
        "Step-time breakdown by batch (adds up to the step)",
        "Step time by chip count",
        "Communication per step",
      ]);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(100);
        expect(c.height).toBeGreaterThan(100);
        expect(c.marks, `${c.title} draws marks`).toBeGreaterThan(3);
      }
      // Axes as rendered: no two adjacent ticks read the same; a linear x-axis spans at least
      // 10% of its upper value (it starts at zero, not at a sliver around a flat series).
      const axes = await page.$$eval("svg.chart", (svgs) =>
        svgs.map((s) => ({
          title: s.getAttribute("aria-label") ?? "",
          x: [...s.querySelectorAll("text.x-tick")].map((t) => t.textContent ?? ""),
          y: [...s.querySelectorAll("text.y-tick")].map((t) => t.textContent ?? ""),
          unit: s.querySelector("text.label[transform]")?.textContent ?? "",
        })),
      );
      const value = (t: string) =>
        Number(t.replace(/k$/, "e3").replace(/M$/, "e6").replace(/G$/, "e9"));
      for (const a of axes) {
        for (const ticks of [a.x, a.y]) {
          for (let i = 1; i < ticks.length; i++) {
            expect(ticks[i], `${a.title}: adjacent ticks ${ticks[i - 1]}, ${ticks[i]}`).not.toBe(
              ticks[i - 1],
            );
          }
        }
        if (a.x.length > 1 && !a.title.includes("chip count") && !a.title.includes("per step")) {
          const xs = a.x.map(value);
          if (xs.every(Number.isFinite)) {
            const hi = Math.max(...xs);
            expect((hi - Math.min(...xs)) / hi, `${a.title} x-domain`).toBeGreaterThanOrEqual(0.1);
          }
        }
        // Times in a unit that suits them (µs, ms or s), named on the axis.
        expect(a.unit, a.title).toMatch(/\((µs|ms|s)\)|^(µs|ms|s) |\b(µs|ms|s) per step/);
      }
      // The assumptions block: chip figures with their source, efficiencies, layout, version,
      // and the command that made the page.
      const stated = await page.$$eval("#assumptions dt", (dts) =>
        Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
      );
      expect(stated.chip).toMatch(/TPU v5e: 197 TFLOP\/s bf16.*HBM 16\.0 GB at 820 GB\/s/);
      expect(stated["chip figures from"]).toMatch(/How to Scale Your Model/);
      expect(stated.efficiencies).toMatch(/100% of peak FLOP\/s/);
      expect(stated.layout).toMatch(/^1d-ws: .*ESTI/);
      expect(stated.shardcost).toMatch(/^\d+\.\d+\.\d+$/);
      expect(stated.command).toBe(
        `shardcost report --model llama3-70b --weights int8 --batch 32 --seq 8192 --mesh v5e:4x4 --out ${out}`,
      );
      // The breakdown's bars add up to the step the report leads with (batch 32).
      const bar32 = await page.$$eval("svg.chart rect.bar title", (ts) =>
        ts.map((t) => t.textContent ?? "").filter((t) => t.startsWith("32:")),
      );
      expect(bar32).toHaveLength(5);
      const rows = await page.$$eval("tbody tr", (trs) => trs.length);
      expect(rows).toBeGreaterThan(10);
      mkdirSync(join(ROOT, "test/artifacts"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "test/artifacts/report.png"), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
