import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchChromium, serveStatic } from '../helpers/browser.js';
import { type Running, startGateway } from '../helpers/gateway.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/until.js';

const DIST = join(import.meta.dirname, '../../dist');

/** A page that loads the SDK as the browser build and records everything it sees. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
import { connect } from '/sdk/client/browser.js';
const state = (window.state = { seqs: [], data: [], events: [] });
const ws = new URLSearchParams(location.search).get('ws');
const client = (window.client = connect(ws, { params: { user: 'browser' }, backoffBaseMs: 100, backoffCapMs: 400 }));
client.on('message', (m) => { state.seqs.push(m.seq); state.data.push(m.data); });
for (const name of ['open', 'resumed', 'resume_failed', 'close']) client.on(name, (p) => state.events.push(name));
</script>`;

interface PageState {
  seqs: number[];
  data: unknown[];
  events: string[];
}

const run = browserAvailable();

describe.runIf(run)('client SDK in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function pageState(page: Page): Promise<PageState> {
    return page.evaluate(() => (window as unknown as { state: PageState }).state);
  }

  /** Polls the page's state until `check` holds, and returns the state that satisfied it. */
  async function waitFor(page: Page, check: (s: PageState) => boolean, what: string): Promise<PageState> {
    let last: PageState | undefined;
    await until(
      async () => {
        last = await pageState(page);
        return check(last);
      },
      { timeoutMs: 10_000, intervalMs: 50, what: () => `${what}; page state ${JSON.stringify(last)}` },
    );
    return last as PageState;
  }

  it('connects, receives, resumes through an outage and a gateway restart, with no duplicate', async () => {
    let gateway: Running = await startGateway({ resumeWindowMs: 10_000 });
    const proxy: TcpProxy = await startTcpProxy(gateway.port);
    const site = await serveStatic({ '/': PAGE }, { '/sdk/': DIST });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    try {
      await page.goto(`${site.origin}/?ws=ws://127.0.0.1:${proxy.port}/ws`);
      await waitFor(page, (s) => s.events.includes('open'), 'the welcome');
      const publish = (from: number, to: number) => {
        for (let i = from; i <= to; i++) gateway.gateway.publish({ user: 'browser' }, i);
      };
      publish(1, 10);
      await waitFor(page, (s) => s.data.length === 10, 'ten messages');

      // The gateway becomes unreachable; what is published meanwhile waits in the session's ring.
      proxy.down();
      publish(11, 20);
      await new Promise((r) => setTimeout(r, 300));
      proxy.up();
      let state = await waitFor(page, (s) => s.data.length >= 20 && s.events.includes('resumed'), 'resume');
      expect(state.seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(state.data).toEqual(state.seqs);

      // A real restart: the gateway drains (1012) and a new one takes the address. The in-memory
      // engine keeps no session across processes, so the SDK reports resume_failed and goes on.
      await gateway.stop();
      gateway = await startGateway();
      proxy.retarget(gateway.port);
      await waitFor(page, (s) => s.events.includes('resume_failed'), 'the resume verdict after restart');
      gateway.gateway.publish({ user: 'browser' }, 'after restart');
      state = await waitFor(page, (s) => s.data.length === 21, 'a message on the new gateway');
      expect(state.data.slice(20)).toEqual(['after restart']);
      expect(state.events.filter((e) => e === 'open')).toHaveLength(3);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await site.close();
      await proxy.close();
      await gateway.stop();
    }
  });
});
