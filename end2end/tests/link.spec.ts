// A call is a place you can link to: its own URL, a "Copy link" button, a link that leads a logged-out
// browser through login into that call, a reload that offers to rejoin it, the last nickname offered again.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, login, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 22000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

test.describe.serial('a call link', () => {
  let a: Page, b: Page;
  const call = 'LinkedCall';

  test('a copied call link, opened in a fresh logged-out browser, leads through login into that call', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    // Granting some permissions refuses the others: camera and microphone are listed too.
    await a.context().grantPermissions(['clipboard-read', 'clipboard-write', 'camera', 'microphone'], { origin: server.url });
    await join(a, call, 'Ada');
    await expect(a).toHaveURL(`${server.url}/call/${call}`);
    await a.getByRole('button', { name: 'Copy link' }).click();
    await expect(a.getByRole('status').filter({ hasText: 'Link copied' })).toBeVisible();
    const link = await a.evaluate(() => navigator.clipboard.readText());
    expect(link).toBe(`${server.url}/call/${call}`);

    // A browser that has never been here: no login, nothing stored.
    const context = await browser.newContext();
    b = await context.newPage();
    await b.goto(link);
    await expect(b.getByRole('heading', { name: 'Video calls' })).toBeFocused();
    await login(b, 'publisher2', 'pass');
    await expect(b.getByRole('heading', { name: 'Join a video call' })).toBeFocused();
    await expect(b.getByLabel('Call name')).toHaveValue(call);
    // No nickname used before in this browser: the user name.
    await expect(b.getByLabel('Nickname')).toHaveValue('publisher2');
    await b.getByLabel('Nickname').fill('Bea');
    await b.getByRole('button', { name: 'Join', exact: true }).click();
    await expect(b.getByTestId('call-name')).toHaveText(call);
    await expect(b).toHaveURL(`${server.url}/call/${call}`);
    await expectPlaying(tileOf(b, 'publisher1'));
    await expectPlaying(tileOf(a, 'publisher2'));
  });

  test('reloading during a call offers to rejoin it, with the nickname last used', async () => {
    await b.reload();
    await expect(b.getByTestId('rejoin-offer')).toHaveText('You were in this call when the page reloaded.');
    await expect(b.getByLabel('Call name')).toHaveValue(call);
    await expect(b.getByLabel('Nickname')).toHaveValue('Bea');
    // The reload left the call: A no longer sees B.
    await expect(tileOf(a, 'publisher2')).toHaveCount(0);
    await b.getByRole('button', { name: 'Rejoin' }).click();
    await expect(b.getByTestId('call-name')).toHaveText(call);
    await expectPlaying(tileOf(a, 'publisher2'));
    await expect(tileOf(a, 'publisher2').getByTestId('nickname')).toHaveText('Bea');
    await expectPlaying(tileOf(b, 'publisher1'));
  });

  test('after leaving, the start page; a reload there offers nothing', async () => {
    await b.getByTestId('leave').click();
    await expect(b).toHaveURL(`${server.url}/`);
    await expect(b.getByLabel('Call name')).toHaveValue(call);
    await b.reload();
    await expect(b.getByRole('button', { name: 'Join', exact: true })).toBeVisible();
    await expect(b.getByTestId('rejoin-offer')).toHaveCount(0);
    await a.getByTestId('leave').click();
  });

  test('leaving right after "Copy link" leaves the page working, with no error', async () => {
    const errors: string[] = [];
    a.on('pageerror', (e) => errors.push(e.message));
    await expect(a).toHaveURL(`${server.url}/`);
    await join(a, call, 'Ada');
    // Playwright's clock, so that the 4 s "Link copied" stays pass at once once the call is left.
    await a.clock.install();
    await a.getByRole('button', { name: 'Copy link' }).click();
    await expect(a.getByRole('status').filter({ hasText: 'Link copied' })).toBeVisible();
    await a.getByTestId('leave').click();
    await expect(a).toHaveURL(`${server.url}/`);
    await a.clock.runFor(5000);
    await join(a, call, 'Ada');
    expect(errors).toEqual([]);
  });
});
