/**
 * The dashboard's HTML: layout and styles only. The live parts are drawn by `app.ts` from the stats
 * stream. The palette is Okabe and Ito's, which stays distinguishable with the common colour-vision
 * deficiencies; a level is never shown by colour alone.
 */

const STYLE = `
  :root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --panel: #ffffff; --bg: #f5f7fa;
    --blue: #0072b2; --orange: #e69f00; --green: #009e73; --red: #d55e00; --pink: #cc79a7; --sky: #56b4e9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1rem; padding: .6rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line); }
  h1 { font-size: 1.1rem; margin: 0; }
  h2 { font-size: .95rem; margin: 0 0 .4rem; }
  .muted { color: var(--muted); font-size: .85rem; }
  #live { font-weight: 600; }
  #live.down { color: var(--red); }
  main { display: grid; gap: .75rem; padding: .75rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34rem), 1fr)); }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .6rem .75rem; min-width: 0; }
  .tiles { display: grid; gap: .5rem; grid-template-columns: repeat(auto-fit, minmax(7.5rem, 1fr)); grid-column: 1 / -1; }
  .tile { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .45rem .6rem; }
  .tile b { display: block; font-size: 1.35rem; font-variant-numeric: tabular-nums; }
  .tile span { color: var(--muted); font-size: .8rem; }
  .gauge { position: relative; height: 1.4rem; border-radius: .3rem; background: linear-gradient(to right, #e3f2ea 0 80%, #fdf0d5 80% 85%, #fbe3d2 85% 95%, #f6d0d8 95%); border: 1px solid var(--line); }
  .gauge .fill { position: absolute; inset: 0 auto 0 0; background: var(--blue); opacity: .75; border-radius: .3rem 0 0 .3rem; }
  .gauge .mark { position: absolute; top: -0.25rem; bottom: -0.25rem; width: 2px; background: var(--ink); }
  .gauge-legend { margin: .3rem 0 0; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .2rem .35rem; border-bottom: 1px solid var(--line); }
  td.n, th.n { text-align: right; }
  tr.leak td { background: #fbe3d2; font-weight: 600; }
  .bar { height: .6rem; background: var(--line); border-radius: .3rem; overflow: hidden; min-width: 4rem; }
  .bar i { display: block; height: 100%; background: var(--blue); }
  .bar i.full { background: var(--red); }
  .state-closed { color: var(--green); } .state-open { color: var(--red); font-weight: 600; } .state-halfOpen { color: #9a6700; font-weight: 600; }
  .chart { min-height: 220px; }
  .scroll { overflow-x: auto; }
  .empty { color: var(--muted); font-style: italic; }
  .uplot { font-family: inherit; }
`;

/** The dashboard page; `app.js` fills it. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>sockwarden dashboard</title>
<link rel="stylesheet" href="/dashboard/vendor/uPlot.min.css">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>sockwarden</h1>
  <span id="live" class="down">connecting…</span>
  <span class="muted" id="node"></span>
  <span class="muted" id="updated"></span>
</header>
<main>
  <div class="tiles">
    <div class="tile"><b id="connections">–</b><span>connections</span></div>
    <div class="tile"><b id="sessions">–</b><span>sessions (<span id="detached">–</span> waiting to resume)</span></div>
    <div class="tile"><b id="users">–</b><span>users</span></div>
    <div class="tile"><b id="zombies">–</b><span>zombies removed</span></div>
    <div class="tile"><b id="evictions">–</b><span>evictions</span></div>
    <div class="tile"><b id="refused">–</b><span>upgrades refused</span></div>
    <div class="tile"><b id="buffered">–</b><span>send buffers</span></div>
  </div>
  <section style="grid-column: 1 / -1">
    <h2>Pressure: <span id="pressure-level">–</span> (<span id="pressure-ratio">–</span> of budget)</h2>
    <div class="gauge" role="meter" aria-label="pressure" aria-valuemin="0" aria-valuemax="100" id="gauge">
      <div class="fill" id="gauge-fill" style="width:0%"></div>
    </div>
    <p class="muted gauge-legend" id="gauge-legend"></p>
  </section>
  <section><h2>Connections, sessions and users (last 15 minutes)</h2><div class="chart" id="chart-levels"></div></section>
  <section><h2>Admissions per second</h2><div class="chart" id="chart-admissions"></div></section>
  <section><h2>Closes per second, by close-code range</h2><div class="chart" id="chart-closes"></div></section>
  <section><h2>Zombies, evictions and upstream 429s per second</h2><div class="chart" id="chart-removals"></div></section>
  <section>
    <h2>Live resources by kind</h2>
    <p class="muted">Highlighted: still held while no connection or session is left, which is a leak.</p>
    <table><thead><tr><th>kind</th><th class="n">live</th></tr></thead><tbody id="resources"></tbody></table>
  </section>
  <section><h2>Cleanup latency (close to every resource released)</h2><div class="chart" id="chart-cleanup"></div></section>
  <section>
    <h2>Top users by connections</h2>
    <table><thead><tr><th>user</th><th class="n">connections</th><th>of the per-user limit (<span id="user-limit">–</span>)</th></tr></thead><tbody id="top-users"></tbody></table>
  </section>
  <section>
    <h2>Upstream calls</h2>
    <div class="scroll"><table><thead><tr><th>upstream</th><th>circuit</th><th class="n">requests</th><th class="n">429s</th><th class="n">retries</th><th class="n">rejected</th><th class="n">in flight</th><th class="n">queued</th><th class="n">success</th></tr></thead><tbody id="upstream"></tbody></table></div>
  </section>
</main>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The sign-in page: one field for the API key; `problem` says why the last attempt failed. */
export function signInPage(problem?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>sockwarden dashboard: sign in</title>
<style>${STYLE} form { display: flex; gap: .5rem; flex-wrap: wrap; } input { font: inherit; padding: .4rem .6rem; flex: 1; min-width: 12rem; } button { font: inherit; padding: .4rem .9rem; }</style>
</head>
<body>
<header><h1>sockwarden</h1></header>
<main><section>
  <h2>Sign in to the dashboard</h2>
  ${problem ? `<p role="alert"><strong>${escapeHtml(problem)}</strong></p>` : ''}
  <p class="muted">Use the gateway's API key (<code>--api-key</code>). The browser keeps a cookie for this dashboard only.</p>
  <form method="post" action="/dashboard"><input type="password" name="key" aria-label="API key" placeholder="API key" required autocomplete="current-password"><button>Open the dashboard</button></form>
</section></main>
</body>
</html>`;
}
