/** The live dashboard in headless Chromium, while the test drives connections at the gateway. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { serve } from '../helpers/cli.js';
import { connect, type TestClient } from '../helpers/gateway.js';

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');

/** The numbers the connection chart was given, read from the page's console handle. */
function connectionSeries(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const view = (window as unknown as { sockwardenDashboard: { charts: { levels: { data: number[][] } } } })
      .sockwardenDashboard;
    return [...(view.charts.levels.data[1] ?? [])];
  });
}

const text = (page: Page, selector: string) => page.textContent(selector);

describe.runIf(browserAvailable())('dashboard in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('follows connections up and down, counts a forced zombie, and fits a laptop and a phone', async () => {
    const { base } = await serve(['--insecure', '--heartbeat-interval', '1000', '--pong-timeout', '500']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    const clients: TestClient[] = [];
    try {
      await page.goto(`${base}/dashboard`);
      await expect.poll(() => text(page, '#live'), { timeout: 5_000 }).toBe('live');
      const ws = `${base.replace('http', 'ws')}/ws`;
      for (let i = 0; i < 24; i++) clients.push(await connect(ws, { user: `user-${i % 4}` }));
      await expect.poll(() => text(page, '#connections'), { timeout: 5_000 }).toBe('24');
      await expect.poll(async () => Math.max(...(await connectionSeries(page)))).toBe(24);
      expect(await text(page, '#users')).toBe('4');
      expect(await page.locator('#top-users tr').count()).toBe(4);
      expect(await text(page, '#user-limit')).toBe('10');

      // A client that never answers pings: the gateway cuts it, and the dashboard counts it.
      const zombie = await connect(ws, { user: 'frozen' }, { autoPong: false });
      await zombie.closed;
      await expect.poll(() => text(page, '#zombies'), { timeout: 5_000 }).toBe('1');

      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1280x800.png'), fullPage: true });
      for (const client of clients.splice(0)) client.ws.close(1000);
      await expect.poll(() => text(page, '#connections'), { timeout: 5_000 }).toBe('0');
      await expect.poll(async () => (await connectionSeries(page)).at(-1), { timeout: 5_000 }).toBe(0);
      // Rose to the 24 clients (25 if a sample caught the zombie) and fell back to none.
      expect(Math.max(...(await connectionSeries(page)))).toBeGreaterThanOrEqual(24);
      expect(await page.locator('#resources tr.leak').count()).toBe(0);

      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
      await page.setViewportSize({ width: 390, height: 844 });
      await expect
        .poll(() => page.evaluate(() => document.documentElement.scrollWidth))
        .toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      for (const client of clients) client.ws.terminate();
      await page.close();
    }
  });

  it('loads and goes live with every request off loopback blocked', async () => {
    const { base } = await serve(['--insecure']);
    const context = await browser.newContext();
    const outside: string[] = [];
    const failed: string[] = [];
    await context.route('**/*', (route) => {
      const { hostname, href } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
      outside.push(href);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('requestfailed', (request) => failed.push(request.url()));
    try {
      await page.goto(`${base}/dashboard`);
      await expect.poll(() => text(page, '#live'), { timeout: 5_000 }).toBe('live');
      // Four time charts and the cleanup histogram, drawn by uPlot from the package.
      expect(await page.locator('.chart canvas').count()).toBe(5);
      expect(outside).toEqual([]);
      expect(failed).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
