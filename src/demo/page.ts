/**
 * The demo chat page served at `/` by `npm start`. It uses the client SDK exactly as an application
 * would (loaded from the gateway's `/sdk/`), shows the assistant's reply streaming token by token,
 * lets the user drop the connection mid-reply to watch it resume, and shows the gateway's live counts.
 */

/**
 * Polls `/api/stats` once a second for the header's counts. Inlined into the page by its source, and
 * tested in Node as is. With `--api-key` set the page has no key, so the API answers 401: the poller
 * says so once and stops, instead of showing "undefined connections" and logging a 401 every second.
 * Plain JavaScript in a TypeScript body: no type-only syntax survives into its source.
 */
export function pollCounts(
  get: (path: string) => Promise<Response>,
  show: (text: string) => void,
  later: (next: () => void, ms: number) => unknown,
): Promise<void> {
  return get('/api/stats').then(
    (response) => {
      if (response.status === 401 || response.status === 403) {
        show('live counts need the API key: see /dashboard');
        return;
      }
      const next = () => {
        void pollCounts(get, show, later);
      };
      return response.json().then(
        (s) => {
          const b = s.upstream?.backend || {};
          show(
            typeof s.connections === 'number'
              ? `gateway: ${s.connections} connections, ${s.sessions} sessions, pressure ${s.pressure} | backend: ${b.inFlight || 0} streaming, circuit ${b.circuit || 'closed'}`
              : '',
          );
          later(next, 1000);
        },
        () => {
          show('');
          later(next, 1000);
        },
      );
    },
    // The gateway is down or restarting: try again, more slowly.
    () => {
      show('');
      later(() => {
        void pollCounts(get, show, later);
      }, 5000);
    },
  );
}

/** The page, self-contained: no asset from the internet. */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sockwarden demo chat</title>
<style>
  :root { color-scheme: light dark; --accent: #2563eb; --muted: #6b7280; }
  body { font: 16px/1.45 system-ui, sans-serif; margin: 0; display: grid; grid-template-rows: auto 1fr auto; height: 100vh; }
  header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid #8884; }
  h1 { font-size: 1.05rem; margin: 0; }
  .badge { padding: .1rem .55rem; border-radius: 999px; font-size: .85rem; background: #8882; }
  .badge.open { background: #16a34a33; } .badge.reconnecting, .badge.connecting { background: #f59e0b44; } .badge.closed { background: #dc262633; }
  .counts { color: var(--muted); font-size: .85rem; }
  main { overflow-y: auto; padding: 1rem; display: flex; flex-direction: column; gap: .6rem; }
  .msg { max-width: 42rem; padding: .5rem .8rem; border-radius: .8rem; white-space: pre-wrap; }
  .me { align-self: flex-end; background: var(--accent); color: white; }
  .bot { align-self: flex-start; background: #8882; }
  .note { align-self: center; color: var(--muted); font-size: .85rem; }
  form { display: flex; gap: .5rem; padding: .6rem 1rem; border-top: 1px solid #8884; }
  input { flex: 1; font: inherit; padding: .5rem .7rem; }
  button { font: inherit; padding: .5rem .9rem; }
</style>
</head>
<body>
<header>
  <h1>sockwarden demo chat</h1>
  <span id="status" class="badge">connecting</span>
  <span class="counts" id="session"></span>
  <span class="counts" id="counts"></span>
  <button id="drop" type="button" title="Drop the socket without ending the session">Drop connection</button>
</header>
<main id="log" aria-live="polite"></main>
<form id="form"><input id="text" autocomplete="off" placeholder="Say something" aria-label="Message"><button>Send</button></form>
<script type="module">
import { connect } from '/sdk/client/browser.js';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const user = params.get('user') || sessionStorage.getItem('user') || 'guest-' + Math.random().toString(36).slice(2, 7);
sessionStorage.setItem('user', user);
const saved = JSON.parse(sessionStorage.getItem('resume') || 'null');
const ws = location.origin.replace(/^http/, 'ws') + '/ws';
const client = connect(ws, { params: { user }, ...(saved ? { session: saved.session, lastSeq: saved.lastSeq } : {}) });
window.client = client;
const replies = new Map();
function add(kind, text) {
  const el = document.createElement('div');
  el.className = 'msg ' + kind;
  el.textContent = text;
  $('log').append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}
client.on('status', (s) => { $('status').textContent = s; $('status').className = 'badge ' + s; });
client.on('open', ({ session, resumed }) => {
  $('session').textContent = 'user ' + user + ', session ' + session.slice(0, 8);
  if (resumed) add('note', 'reconnected: the session resumed, missed tokens follow');
});
client.on('resume_failed', ({ reason }) => add('note', 'the session could not resume (' + reason + '): starting afresh'));
client.on('close', (e) => { if (e.willReconnect) add('note', 'connection lost (' + e.code + '), reconnecting in ' + e.retryInMs + ' ms'); });
client.on('error', (e) => add('note', 'error ' + e.code + ': ' + e.message));
client.on('message', ({ data }) => {
  if (data && data.type === 'token') {
    let el = replies.get(data.reply);
    if (!el) { el = add('bot', ''); replies.set(data.reply, el); }
    el.textContent += data.text;
    el.scrollIntoView({ block: 'end' });
  } else if (data && data.type === 'done') {
    replies.delete(data.reply);
  } else {
    add('bot', JSON.stringify(data));
  }
  sessionStorage.setItem('resume', JSON.stringify({ session: client.session, lastSeq: client.lastSeq }));
});
$('form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  $('text').value = '';
  add('me', text);
  client.send({ text }).catch((e) => add('note', 'not sent: ' + e.message));
});
$('drop').addEventListener('click', () => client.reconnect());
(${pollCounts.toString()})((path) => fetch(path), (text) => { $('counts').textContent = text; }, setTimeout);
</script>
</body>
</html>
`;
