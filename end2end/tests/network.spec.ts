// Losing the network (issue 6), cut for real for 10 s: netfilter drops every packet of Ada's browser
// (tests/netcut.ts), Bob's goes on as usual. While openvidu-browser reconnects Ada's page says so and
// the videos read "Video frozen"; once her network is back the banner goes and both see each other's
// video decoding new frames again. A cut past the server's reconnection grace ends her call with
// "You were disconnected" and a Rejoin that brings both back.
import { expect, Browser, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';
import { checkCanCut, cut, launchCuttable, restore } from './netcut';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 25000);
/** Ada's browser, the one whose network goes; Bob is in the usual one. */
let cuttable: Browser;

test.beforeAll(async ({ launchOptions }) => {
  checkCanCut();
  await server.start();
  cuttable = await launchCuttable(launchOptions);
});
test.afterEach(async () => {
  restore();
  // Each test opens its own pages in this browser; none of them is to outlive the test.
  for (const context of cuttable?.contexts() ?? []) await context.close();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  restore();
  await cuttable?.close();
  await server.stop();
});

const banner = (page: Page) => page.getByRole('status').filter({ hasText: /^Connection lost, reconnecting…/ });
const frozen = (page: Page, other: string) => tileOf(page, other).getByTestId('frozen');

/** Ada (publisher1, in the cuttable browser) and Bob (publisher2) in `call`, each seeing the other. */
async function adaAndBob(browser: Browser, call: string): Promise<[Page, Page]> {
  const a = await loggedInPage(cuttable, server.url, 'publisher1');
  const b = await loggedInPage(browser, server.url, 'publisher2');
  await join(a, call, 'Ada');
  await join(b, call, 'Bob');
  await expectPlaying(tileOf(a, 'publisher2'));
  await expectPlaying(tileOf(b, 'publisher1'));
  await expect(frozen(a, 'publisher2')).toHaveCount(0);
  await expect(frozen(b, 'publisher1')).toHaveCount(0);
  return [a, b];
}

test('a 10 s cut: a banner while reconnecting, then both see each other again', async ({ browser }) => {
  const [a, b] = await adaAndBob(browser, 'ShortCut');

  // The longest cut a call is meant to survive. openvidu-browser notices it by a ping left unanswered
  // (one every 5 s, 5 s to answer), 5 to 10 s in; the server keeps Ada 20 s from the last ping it
  // heard, so she finds her place again. (Should noticing take longer, the cut lasts until the banner.)
  const cutUntil = Date.now() + 10_000;
  cut();
  await Promise.all([
    expect(banner(a)).toBeVisible({ timeout: 20_000 }),
    expect(frozen(a, 'publisher2')).toHaveText('Video frozen', { timeout: 20_000 }),
    expect(frozen(b, 'publisher1')).toHaveText('Video frozen', { timeout: 20_000 }),
  ]);
  const left = cutUntil - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  restore();

  await expect(banner(a)).toHaveCount(0);
  await expect(a.getByTestId('call-error')).toHaveCount(0);
  await expectPlaying(tileOf(a, 'publisher2'));
  await expectPlaying(tileOf(b, 'publisher1'));
  await expect(frozen(a, 'publisher2')).toHaveCount(0);
  await expect(frozen(b, 'publisher1')).toHaveCount(0);
  await expect(tileOf(b, 'publisher1').getByTestId('nickname')).toHaveText('Ada');
  await a.getByTestId('leave').click();
  await b.getByTestId('leave').click();
});

test('a cut past the reconnection grace: "You were disconnected", and Rejoin brings both back', async ({ browser }) => {
  test.setTimeout(240_000);
  const call = 'LongCut';
  const [a, b] = await adaAndBob(browser, call);

  cut();
  await expect(banner(a)).toBeVisible({ timeout: 20_000 });
  // The server hears no ping from Ada for 20 s and her grace runs out: Bob sees her leave.
  await expect(tileOf(b, 'publisher1')).toHaveCount(0, { timeout: 60_000 });
  restore();

  const error = a.getByTestId('call-error');
  await expect(error).toContainText('You were disconnected', { timeout: 60_000 });
  await expect(banner(a)).toHaveCount(0);
  await error.getByRole('button', { name: 'Rejoin' }).click();
  await expect(a.getByTestId('call-name')).toHaveText(call);
  await expectPlaying(tileOf(a, 'publisher2'));
  await expectPlaying(tileOf(b, 'publisher1'));
  await expect(tileOf(b, 'publisher1').getByTestId('nickname')).toHaveText('Ada');
  await expect(a.getByTestId('call-error')).toHaveCount(0);
  await a.getByTestId('leave').click();
  await b.getByTestId('leave').click();
});
