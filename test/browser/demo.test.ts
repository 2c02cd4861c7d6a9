/** The demo a new user sees after `npm start`, driven in headless Chromium. */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyTo } from '../../src/demo/backend.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { serve } from '../helpers/cli.js';

describe.runIf(browserAvailable())('demo chat (npm start)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('streams the reply token by token and resumes mid-reply without losing or repeating one', async () => {
    const { base } = await serve(['--insecure', '--demo']);
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    try {
      await page.goto(`${base}/?user=demo-user`);
      await page.waitForSelector('#status.open');
      await page.fill('#text', 'hello there');
      await page.press('#text', 'Enter');
      // Streaming: the bubble grows while the reply is still coming.
      const bubble = page.locator('.msg.bot').first();
      await expect
        .poll(async () => (await bubble.textContent())?.length ?? 0, { timeout: 5_000 })
        .toBeGreaterThan(10);
      const partial = (await bubble.textContent()) ?? '';
      const full = replyTo('hello there').join('');
      expect(partial.length).toBeLessThan(full.length);
      // Drop the socket mid-reply: the session resumes and the reply completes exactly once.
      await page.click('#drop');
      await page.waitForSelector('.note >> text=the session resumed');
      await expect.poll(async () => bubble.textContent(), { timeout: 10_000 }).toBe(full);
      await expect
        .poll(async () => page.textContent('#counts'), { timeout: 3_000 })
        .toMatch(/1 connections, 1 sessions/);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
