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
      "Per-op table",
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
        "Step-time breakdown by batch (each alone)",
        "Step time by chip count",
        "Communication per step",
      ]);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(100);
        expect(c.height).toBeGreaterThan(100);
        expect(c.marks, `${c.title} draws marks`).toBeGreaterThan(3);
      }
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
