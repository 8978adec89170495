// The product as a person sees it: logging in, calls between two publishers and a subscriber, names as
// text, leaving, logging out, and a restart of the app.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, login, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 10000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

test('a wrong password is refused with a clear message', async ({ page }) => {
  await page.goto(server.url);
  await login(page, 'publisher1', 'wrong');
  await expect(page.getByTestId('login-error')).toHaveText('Wrong user name or password.');
  await expect(page.getByLabel('Password')).toBeVisible();
  await login(page, 'publisher1', 'pass');
  await expect(page.getByTestId('me')).toContainText('publisher1');
});

test.describe.serial('a call', () => {
  let p1: Page, p2: Page, sub: Page;
  const call = 'E2Ecall';
  const evil = '<img src=x onerror=alert(1)>';

  test('two publishers see each other under the right names', async ({ browser }) => {
    p1 = await loggedInPage(browser, server.url, 'publisher1');
    p2 = await loggedInPage(browser, server.url, 'publisher2');
    await join(p1, call, evil);
    await join(p2, call, 'Bob');
    await expectPlaying(tileOf(p1, 'publisher2'));
    await expectPlaying(tileOf(p2, 'publisher1'));
    await expect(tileOf(p1, 'publisher2').getByTestId('nickname')).toHaveText('Bob');
    await expect(tileOf(p1, 'publisher2').getByTestId('user')).toHaveText('publisher2');
    await expect(tileOf(p2, 'publisher1').getByTestId('user')).toHaveText('publisher1');
  });

  test('a nickname with markup shows as text', async () => {
    await expect(tileOf(p2, 'publisher1').getByTestId('nickname')).toHaveText(evil);
    await expect(p2.locator('[data-testid="participants"] img')).toHaveCount(0);
    await expect(p2.locator('img[src="x"]')).toHaveCount(0);
  });

  test('the subscriber sees both and does not publish', async ({ browser }) => {
    sub = await loggedInPage(browser, server.url, 'subscriber');
    await join(sub, call, 'Watcher');
    await expect(sub.getByTestId('subscriber-notice')).toContainText('You are watching');
    await expectPlaying(tileOf(sub, 'publisher1'));
    await expectPlaying(tileOf(sub, 'publisher2'));
    await expect(sub.locator('[data-testid="participant"][data-local="true"]')).toHaveCount(0);
    // Nobody sees a tile for the subscriber.
    await expect(tileOf(p1, 'subscriber')).toHaveCount(0);
    await expect(p1.locator('[data-testid="participant"]')).toHaveCount(2);
  });

  test('one who leaves disappears from the others', async () => {
    await p2.getByTestId('leave').click();
    await expect(p2.getByRole('button', { name: 'Join', exact: true })).toBeVisible();
    await expect(tileOf(p1, 'publisher2')).toHaveCount(0);
    await expect(tileOf(sub, 'publisher2')).toHaveCount(0);
    await expect(tileOf(sub, 'publisher1')).toHaveCount(1);
  });

  test('closing the tab leaves the call', async () => {
    await sub.close();
    // The subscriber had no tile; its connection must still be gone from the media server.
    await expect.poll(async () => (await server.mediaApiJson(`/sessions/${call}`)).connections.numberOfElements).toBe(1);
  });

  test('a publisher who closes the tab disappears from the others', async () => {
    await join(p2, call, 'Bob again');
    await expectPlaying(tileOf(p1, 'publisher2'));
    await p2.close();
    await expect(tileOf(p1, 'publisher2')).toHaveCount(0);
  });

  test('when the last one leaves, the call is gone from the media server', async () => {
    expect(await server.mediaApi(`/sessions/${call}`)).toBe(200);
    await p1.getByTestId('leave').click();
    await expect(p1.getByRole('button', { name: 'Join', exact: true })).toBeVisible();
    await expect.poll(() => server.mediaApi(`/sessions/${call}`)).toBe(404);
  });
});

test('after logout, get-token answers 401', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'publisher1');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'session');
  expect(session?.httpOnly).toBe(true);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
  const res = await page.request.post(`${server.url}/api/get-token`, { data: { call: 'X' } });
  expect(res.status()).toBe(401);
  // The old cookie, replayed, is dead too.
  const replay = await fetch(`${server.url}/api/get-token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: `session=${session!.value}` },
    body: JSON.stringify({ call: 'X' }),
  });
  expect(replay.status).toBe(401);
});

test('a restart of the app keeps users logged in', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'publisher2');
  await server.stop();
  await server.start();
  await page.reload();
  await expect(page.getByTestId('me')).toContainText('publisher2');
  // And joining works with the restarted media server.
  await join(page, 'AfterRestart', 'Again');
  await expect(page.locator('[data-testid="participant"][data-local="true"]')).toHaveCount(1);
  await page.getByTestId('leave').click();
});
