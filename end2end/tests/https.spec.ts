// Over HTTPS (the generated self-signed certificate, accepted once as a person would): the media
// server's WebSocket is on the app's own origin, so the call works with no second certificate.
import { expect } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, login, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 12000, true);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

test('a call over HTTPS and WSS on one origin', async ({ browser }) => {
  const pages = [];
  for (const [user, nick] of [['publisher1', 'Ann'], ['publisher2', 'Ben']]) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(server.url);
    await login(page, user, 'pass');
    await expect(page.getByTestId('me')).toContainText(user);
    const cookie = (await context.cookies()).find((c) => c.name === '__Host-session');
    expect(cookie?.secure).toBe(true);
    await join(page, 'Tls', nick);
    pages.push(page);
  }
  await expectPlaying(tileOf(pages[0], 'publisher2'));
  await expectPlaying(tileOf(pages[1], 'publisher1'));
});
