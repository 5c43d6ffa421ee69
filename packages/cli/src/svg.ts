/** Small static SVG charts: the HTML report embeds them, so it needs no script and no network. */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** Draw a line through the points (else markers only). */
  readonly line?: boolean;
  /** A text label per point. */
  readonly labels?: readonly string[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logX?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** 1, 2, 5 × 10^k ticks covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(+v.toPrecision(12));
  return out;
}

function tickText(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a < 1e-2 && v !== 0) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 560;
  const H = o.height ?? 340;
  const m = { l: 64, r: 16, t: 36, b: 48 };
  const all = series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const fx = (x: number) => (o.logX ? Math.log2(x) : x);
  const xs = all.map(([x]) => fx(x));
  const ys = all.map(([, y]) => y);
  // A linear axis starts at zero, so a flat series does not zoom into a sliver of its value.
  let x0 = o.logX ? Math.min(...xs) : Math.min(0, ...xs);
  let x1 = Math.max(...xs);
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x1 + 1];
  const y0 = 0;
  let y1 = Math.max(...ys) * 1.08;
  if (!(y1 > y0)) y1 = 1;
  const px = (x: number) => m.l + ((fx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="${W / 2}" y="20" text-anchor="middle" class="title">${esc(o.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" class="axis"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" class="axis"/>`,
  ];
  const xTicks = o.logX
    ? Array.from({ length: Math.floor(x1) - Math.ceil(x0) + 1 }, (_, i) => 2 ** (Math.ceil(x0) + i))
    : niceTicks(x0, x1);
  for (const t of xTicks) {
    const x = px(t);
    parts.push(
      `<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 4}" class="axis"/>`,
      `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle" class="tick x-tick">${tickText(t)}</text>`,
    );
  }
  for (const t of niceTicks(y0, y1)) {
    const y = py(t);
    parts.push(
      `<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" class="grid"/>`,
      `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" class="tick y-tick">${tickText(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle" class="label">${esc(o.xLabel)}</text>`,
    `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, si) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (s.line && pts.length > 1) {
      const d = pts
        .map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
        .join("");
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" class="series"/>`,
      );
    }
    // Labels that would overprint the last one drawn are left out (the point stays).
    let lastLabel: [number, number] | undefined;
    pts.forEach(([x, y], i) => {
      parts.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${s.color}" class="point"/>`,
      );
      const label = s.labels?.[i];
      const near =
        lastLabel !== undefined &&
        Math.abs(px(x) - lastLabel[0]) < 34 &&
        Math.abs(py(y) - lastLabel[1]) < 12;
      if (label && !near) {
        lastLabel = [px(x), py(y)];
        // Near the right edge, the label goes to the point's left.
        const right = px(x) > W - m.r - 50;
        const lx = right ? px(x) - 5 : px(x) + 5;
        parts.push(
          `<text x="${lx.toFixed(1)}" y="${(py(y) - 5).toFixed(1)}" text-anchor="${right ? "end" : "start"}" class="pointlabel">${esc(label)}</text>`,
        );
      }
    });
    parts.push(legendEntry(W - m.r - 150, m.t + 4 + si * 16, s.color, s.name));
  });
  parts.push("</svg>");
  return parts.join("\n");
}

export interface BarStack {
  readonly label: string;
  readonly values: readonly number[];
}

/** Stacked bars: one bar per entry, one colour per component. */
export function stackedBars(
  bars: readonly BarStack[],
  components: readonly { readonly name: string; readonly color: string }[],
  o: Omit<ChartOptions, "logX">,
): string {
  const W = o.width ?? 560;
  const H = o.height ?? 340;
  const m = { l: 64, r: 150, t: 36, b: 48 };
  const top = Math.max(...bars.map((b) => b.values.reduce((a, v) => a + v, 0))) * 1.08 || 1;
  const bw = (W - m.l - m.r) / Math.max(1, bars.length);
  const py = (y: number) => H - m.b - (y / top) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="${(W - m.r + m.l) / 2}" y="20" text-anchor="middle" class="title">${esc(o.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" class="axis"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" class="axis"/>`,
  ];
  for (const t of niceTicks(0, top)) {
    parts.push(
      `<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" class="grid"/>`,
      `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end" class="tick y-tick">${tickText(t)}</text>`,
    );
  }
  bars.forEach((b, i) => {
    let acc = 0;
    const x = m.l + i * bw + bw * 0.15;
    b.values.forEach((v, k) => {
      const yTop = py(acc + v);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yTop.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${(py(acc) - yTop).toFixed(1)}" fill="${components[k]!.color}" class="bar"><title>${esc(`${b.label}: ${components[k]!.name} ${tickText(v)}`)}</title></rect>`,
      );
      acc += v;
    });
    parts.push(
      `<text x="${(x + bw * 0.35).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle" class="tick">${esc(b.label)}</text>`,
    );
  });
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle" class="label">${esc(o.xLabel)}</text>`,
    `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}</text>`,
  );
  components.forEach((c, k) => {
    parts.push(legendEntry(W - m.r + 12, m.t + 4 + k * 16, c.color, c.name));
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** A colour swatch and its name. */
function legendEntry(x: number, y: number, color: string, name: string): string {
  return (
    `<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${color}"/>\n` +
    `<text x="${x + 15}" y="${y + 1}" class="legend">${esc(name)}</text>`
  );
}

export { esc };
