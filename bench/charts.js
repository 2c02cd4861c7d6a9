// Charts for docs/benchmarks.md, drawn by uPlot in headless Chromium and saved as PNG: memory per
// connection against connection count, and the latency distributions. Without Chromium the report
// is written without them and says so.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { progress } from './processes.js';

const CHROMIUM = '/usr/bin/chromium';
const require = createRequire(import.meta.url);
/** One colour per contender, from the Okabe-Ito palette (told apart with colour blindness too). */
const COLOURS = { ws: '#000000', sockwarden: '#0072B2', 'socket.io': '#D55E00', uWS: '#009E73' };
const DASHES = { ws: [], sockwarden: [], 'socket.io': [8, 4], uWS: [2, 3] };

function chartSpecs(results) {
  const names = Object.keys(results.contenders);
  const percentiles = Array.from({ length: 101 }, (_, p) => p);
  const distribution = (file, title, yLabel, read) => ({
    file,
    title,
    xLabel: 'percentile',
    yLabel,
    x: percentiles,
    series: names
      .map((name) => ({ name, values: read(results.contenders[name]) }))
      .filter((s) => s.values?.length === 101),
  });
  return [
    {
      file: 'bench-memory.png',
      title: 'Idle memory per connection (RSS, KiB)',
      xLabel: 'connections held',
      yLabel: 'KiB per connection',
      x: results.sizes.memory,
      series: names
        .map((name) => ({
          name,
          values: results.contenders[name].memory?.memory.map((m) => m.rssPerConnection / 1024),
        }))
        .filter((s) => s.values),
    },
    distribution(
      'bench-fanout.png',
      `Fan-out: last delivery of one broadcast to ${results.sizes.fanout.toLocaleString('en-US')} connections`,
      'ms',
      (r) => r.fanout?.lastDeliveryMs.ladder,
    ),
    distribution(
      'bench-echo.png',
      `Echo round trip at ${results.sizes.echo.toLocaleString('en-US')} connections`,
      'ms',
      (r) => r.echo?.roundTripMs.ladder,
    ),
  ].filter((spec) => spec.series.length > 0);
}

function page(specs) {
  const uplotDir = join(require.resolve('uplot'), '..');
  const script = readFileSync(join(uplotDir, 'uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(join(uplotDir, 'uPlot.min.css'), 'utf8');
  return `<!doctype html><html><head><meta charset="utf-8"><style>${css}
body{margin:0;background:#fff;font:14px system-ui,sans-serif;color:#111}
.chart{padding:12px 16px;width:760px}</style><script>${script}</script></head><body>
<script>
const specs = ${JSON.stringify(specs)};
const colours = ${JSON.stringify(COLOURS)};
const dashes = ${JSON.stringify(DASHES)};
for (const [i, spec] of specs.entries()) {
  const box = document.createElement('div');
  box.className = 'chart';
  box.id = 'chart' + i;
  document.body.append(box);
  new uPlot({
    title: spec.title,
    width: 760,
    height: 340,
    scales: { x: { time: false } },
    // A still image: the legend names the series, without the hover read-out.
    legend: { live: false },
    axes: [
      { label: spec.xLabel, stroke: '#111', grid: { stroke: '#ddd' } },
      { label: spec.yLabel, stroke: '#111', grid: { stroke: '#ddd' }, size: 60 },
    ],
    series: [{ label: spec.xLabel }, ...spec.series.map((s) => ({
      label: s.name,
      stroke: colours[s.name] ?? '#555',
      dash: dashes[s.name] ?? [],
      width: 2,
      points: { show: spec.x.length < 10, size: 7 },
    }))],
  }, [spec.x, ...spec.series.map((s) => s.values)], box);
}
</script></body></html>`;
}

/** Draws every chart into `dir`; returns the files written, or [] when Chromium is not there. */
export async function renderCharts(results, dir) {
  if (!existsSync(CHROMIUM)) {
    progress(`charts skipped: no ${CHROMIUM}`);
    return [];
  }
  const { chromium } = await import('playwright-core');
  const specs = chartSpecs(results);
  mkdirSync(dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 800, height: 400 }, deviceScaleFactor: 2 });
    await tab.setContent(page(specs));
    for (const [i, spec] of specs.entries())
      await tab.locator(`#chart${i}`).screenshot({ path: join(dir, spec.file) });
  } finally {
    await browser.close();
  }
  progress(`charts: ${specs.map((s) => s.file).join(', ')}`);
  return specs.map((s) => ({ file: s.file, title: s.title }));
}
