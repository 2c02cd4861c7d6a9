/**
 * The dashboard in the browser: reads the gateway's stats stream (Server-Sent Events; the browser
 * reconnects it by itself and each reconnect starts with the whole history again) and draws it with
 * uPlot, which the gateway serves from its own package.
 */
import type uPlotType from 'uplot';
import type { StatsLatest, StatsPoint } from '../observability/stats-history.js';
import type { DashboardLimits } from '../server/dashboard-stream.js';

// A runtime URL rather than a bare specifier: the page needs no import map, so its CSP needs no
// inline script.
const UPLOT_URL = '/dashboard/vendor/uPlot.esm.js';
const { default: uPlot } = (await import(UPLOT_URL)) as { default: typeof uPlotType };

interface HistoryEvent {
  points: StatsPoint[];
  latest?: StatsLatest;
  limits: DashboardLimits;
  viewers: number;
}

interface SampleEvent {
  point: StatsPoint;
  latest: StatsLatest;
  viewers: number;
}

const COLORS = {
  blue: '#0072b2',
  orange: '#e69f00',
  green: '#009e73',
  red: '#d55e00',
  pink: '#cc79a7',
  sky: '#56b4e9',
  ink: '#1f2933',
};

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el;
};

const count = new Intl.NumberFormat('en');
const rate = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function seconds(s: number): string {
  if (s < 0.001) return `${Math.round(s * 1e6)} µs`;
  if (s < 1) return `${Math.round(s * 1e4) / 10} ms`;
  return `${s} s`;
}

/** One line per series: how it is read from a point, and how it looks. */
interface Line {
  label: string;
  color: string;
  read: (p: StatsPoint) => number;
  dash?: number[];
}

interface TimeChart {
  plot: uPlotType;
  lines: Line[];
  data: number[][];
}

function timeChart(id: string, unit: string, lines: Line[]): TimeChart {
  const el = $(id);
  const data: number[][] = [[], ...lines.map(() => [])];
  const plot = new uPlot(
    {
      width: el.clientWidth || 480,
      height: 220,
      series: [
        { label: 'time' },
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 2,
          ...(l.dash ? { dash: l.dash } : {}),
          value: (_u: uPlotType, v: number | null) => (v === null ? '–' : `${rate.format(v)} ${unit}`),
        })),
      ],
      axes: [
        { stroke: COLORS.ink, grid: { stroke: '#e4e7eb' } },
        {
          label: unit,
          stroke: COLORS.ink,
          grid: { stroke: '#e4e7eb' },
          size: 56,
          values: (_u: uPlotType, splits: number[]) => splits.map((v) => rate.format(v)),
        },
      ],
      scales: { y: { range: (_u: uPlotType, _min: number, max: number) => [0, Math.max(1, max * 1.1)] } },
    },
    data as uPlotType.AlignedData,
    el,
  );
  return { plot, lines, data };
}

const charts = {
  levels: timeChart('chart-levels', 'count', [
    { label: 'connections', color: COLORS.blue, read: (p) => p.connections },
    { label: 'sessions', color: COLORS.orange, read: (p) => p.sessions, dash: [6, 3] },
    { label: 'users', color: COLORS.green, read: (p) => p.users, dash: [2, 3] },
  ]),
  admissions: timeChart('chart-admissions', 'per s', [
    { label: 'admitted', color: COLORS.blue, read: (p) => p.admitted },
    { label: 'refused', color: COLORS.red, read: (p) => p.refused, dash: [6, 3] },
  ]),
  closes: timeChart('chart-closes', 'per s', [
    { label: 'clean (1000)', color: COLORS.green, read: (p) => p.closes.clean },
    {
      label: 'resumable (1001, 1012, 1013, 40xx)',
      color: COLORS.blue,
      read: (p) => p.closes.resumable,
      dash: [6, 3],
    },
    { label: 'final (1008, 1009, 41xx)', color: COLORS.orange, read: (p) => p.closes.final, dash: [2, 3] },
    {
      label: 'abnormal (1006 and others)',
      color: COLORS.red,
      read: (p) => p.closes.abnormal,
      dash: [8, 3, 2, 3],
    },
  ]),
  removals: timeChart('chart-removals', 'per s', [
    { label: 'zombies removed', color: COLORS.red, read: (p) => p.zombies },
    { label: 'evictions', color: COLORS.orange, read: (p) => p.evictions, dash: [6, 3] },
    { label: 'upstream 429s', color: COLORS.pink, read: (p) => p.throttled, dash: [2, 3] },
  ]),
};

let cleanupLabels: string[] = [];
const cleanupEl = $('chart-cleanup');
const cleanupChart = new uPlot(
  {
    width: cleanupEl.clientWidth || 480,
    height: 220,
    series: [
      {
        label: 'at most',
        value: (_u: uPlotType, v: number | null) => (v === null ? '–' : (cleanupLabels[v] ?? '')),
      },
      {
        label: 'connections closed',
        stroke: COLORS.blue,
        fill: `${COLORS.blue}99`,
        paths: uPlot.paths.bars?.({ size: [0.7, 64] }),
        points: { show: false },
      },
    ],
    scales: {
      x: { time: false, range: (_u: uPlotType, min: number, max: number) => [min - 0.5, max + 0.5] },
    },
    axes: [
      {
        label: 'time to release, up to',
        stroke: COLORS.ink,
        // Ten bucket labels fit a phone only when slanted.
        rotate: -40,
        size: 64,
        splits: () => cleanupLabels.map((_l, i) => i),
        values: (_u: uPlotType, splits: number[]) => splits.map((i) => cleanupLabels[i] ?? ''),
        grid: { show: false },
      },
      { label: 'connections', stroke: COLORS.ink, size: 56, grid: { stroke: '#e4e7eb' } },
    ],
  },
  [[], []],
  cleanupEl,
);

/** Read-only handle for the browser console (and the browser test): what the charts were given. */
const view = { charts, cleanupChart, latest: undefined as StatsLatest | undefined };
(window as unknown as { sockwardenDashboard: typeof view }).sockwardenDashboard = view;

let limits: DashboardLimits | undefined;

function push(point: StatsPoint, max: number): void {
  for (const chart of Object.values(charts)) {
    chart.data[0]?.push(point.t / 1000);
    for (const [i, line] of chart.lines.entries()) chart.data[i + 1]?.push(line.read(point));
    if ((chart.data[0]?.length ?? 0) > max) for (const column of chart.data) column.shift();
  }
}

function redraw(): void {
  for (const chart of Object.values(charts)) chart.plot.setData(chart.data as uPlotType.AlignedData);
}

function cell(text: string, numeric = false): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'n';
  return td;
}

function rows(body: HTMLElement, list: HTMLTableRowElement[], empty: string, columns: number): void {
  if (list.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(empty);
    td.colSpan = columns;
    td.className = 'empty';
    tr.append(td);
    list.push(tr);
  }
  body.replaceChildren(...list);
}

function showGauge(ratio: number, level: string): void {
  $('pressure-level').textContent = level;
  $('pressure-ratio').textContent = `${Math.round(ratio * 1000) / 10}%`;
  $('gauge-fill').style.width = `${Math.min(100, ratio * 100)}%`;
  $('gauge').setAttribute('aria-valuenow', String(Math.round(ratio * 100)));
}

function showThresholds(thresholds: DashboardLimits['thresholds']): void {
  const gauge = $('gauge');
  for (const mark of Array.from(gauge.querySelectorAll('.mark'))) mark.remove();
  for (const [name, at] of Object.entries(thresholds)) {
    const mark = document.createElement('div');
    mark.className = 'mark';
    mark.style.left = `${at * 100}%`;
    mark.title = `${name} at ${at * 100}%`;
    gauge.append(mark);
  }
  // The marks sit too close together to label on a phone, so the legend says what they are.
  $('gauge-legend').textContent = `Marks: ${Object.entries(thresholds)
    .map(([name, at]) => `${name} at ${at * 100}%`)
    .join(', ')}. Shedding refuses new sessions; critical evicts idle sessions and zombies.`;
}

function showLatest(latest: StatsLatest, viewers: number): void {
  view.latest = latest;
  const { figures, totals } = latest;
  $('connections').textContent = count.format(figures.connections);
  $('sessions').textContent = count.format(figures.sessions);
  $('detached').textContent = count.format(figures.detachedSessions);
  $('users').textContent = count.format(figures.users);
  $('zombies').textContent = count.format(totals.zombies);
  $('evictions').textContent = count.format(Object.values(totals.evictions).reduce((a, b) => a + b, 0));
  const refused = Object.entries(totals.admissions).filter(([outcome]) => outcome !== 'admitted');
  $('refused').textContent = count.format(refused.reduce((sum, [, n]) => sum + n, 0));
  $('buffered').textContent = bytes(figures.bufferedBytes);
  showGauge(figures.pressureRatio, figures.pressure);
  // With --workers the page shows the worker its stream landed on; say which, so it is not taken
  // for the machine (whose figures are in /metrics).
  const { worker } = latest;
  const which = worker && worker.workers > 1 ? `, worker ${worker.id} of ${worker.workers}` : '';
  $('node').textContent =
    `engine ${figures.engine}${figures.draining ? ', draining' : ''}${which}, ${viewers} viewer${viewers === 1 ? '' : 's'}`;
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;

  const idle = figures.connections === 0 && figures.sessions === 0;
  const kinds = Object.entries(figures.resources).sort(([a], [b]) => a.localeCompare(b));
  rows(
    $('resources'),
    kinds.map(([kind, live]) => {
      const tr = document.createElement('tr');
      if (idle && live !== 0) tr.className = 'leak';
      tr.append(cell(kind), cell(count.format(live), true));
      return tr;
    }),
    'nothing has been held yet',
    2,
  );

  const limit = limits?.maxConnectionsPerUser ?? 1;
  $('user-limit').textContent = String(limit);
  rows(
    $('top-users'),
    figures.topUsers.map(({ user, connections }) => {
      const tr = document.createElement('tr');
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('i');
      fill.style.width = `${Math.min(100, (connections / limit) * 100)}%`;
      if (connections >= limit) fill.className = 'full';
      bar.append(fill);
      const barCell = document.createElement('td');
      barCell.append(bar);
      barCell.title = `${connections} of ${limit}`;
      tr.append(cell(user), cell(String(connections), true), barCell);
      return tr;
    }),
    'no user connected',
    3,
  );

  rows(
    $('upstream'),
    Object.entries(figures.upstream).map(([name, u]) => {
      const tr = document.createElement('tr');
      const circuit = cell(u.circuit);
      circuit.className = `state-${u.circuit}`;
      tr.append(
        cell(name),
        circuit,
        ...[u.requests, u.throttled, u.retries, u.rejected, u.inFlight, u.queued].map((n) =>
          cell(count.format(n), true),
        ),
        cell(`${Math.round(u.successRate * 1000) / 10}%`, true),
      );
      return tr;
    }),
    'no upstream call yet',
    9,
  );

  const { bounds, counts } = totals.cleanup;
  cleanupLabels = bounds.map((b, i) =>
    Number.isFinite(b) ? `≤ ${seconds(b)}` : `> ${seconds(bounds[i - 1] ?? 0)}`,
  );
  cleanupChart.setData([bounds.map((_b, i) => i), counts]);
}

function fit(): void {
  for (const chart of [...Object.values(charts).map((c) => c.plot), cleanupChart]) {
    const width = chart.root.parentElement?.clientWidth ?? 480;
    if (Math.abs(chart.width - width) > 1) chart.setSize({ width, height: 220 });
  }
}

new ResizeObserver(fit).observe(document.body);

const live = $('live');
const stream = new EventSource('/dashboard/stream');
stream.addEventListener('history', (event) => {
  const history = JSON.parse((event as MessageEvent<string>).data) as HistoryEvent;
  limits = history.limits;
  showThresholds(history.limits.thresholds);
  for (const chart of Object.values(charts)) for (const column of chart.data) column.length = 0;
  for (const point of history.points) push(point, history.limits.historySeconds);
  redraw();
  if (history.latest) showLatest(history.latest, history.viewers);
  live.textContent = 'live';
  live.className = '';
});
stream.addEventListener('sample', (event) => {
  const sample = JSON.parse((event as MessageEvent<string>).data) as SampleEvent;
  push(sample.point, limits?.historySeconds ?? 900);
  redraw();
  showLatest(sample.latest, sample.viewers);
});
stream.addEventListener('error', () => {
  live.className = 'down';
  live.textContent =
    stream.readyState === EventSource.CLOSED
      ? 'disconnected: reload the page (signed out, or the gateway refused the stream)'
      : 'reconnecting…';
});
