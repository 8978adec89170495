// Failures a person understands: joining while the server is down says so in words, with a way on; when
// the server dies mid-call the page says the connection is lost and the videos are frozen; once it is
// back, Rejoin gets a fresh token and both see each other again.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 23000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

test('joining while the server is down: a sentence, and Try again works once it is back', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'publisher1');
  await server.stop();
  await page.getByLabel('Call name').fill('WhileDown');
  await page.getByLabel('Nickname').fill('Ada');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  const error = page.getByTestId('call-error');
  await expect(error).toContainText('The server cannot be reached.');
  await expect(error).not.toContainText('TypeError');
  await expect(error).not.toContainText('Failed to fetch');
  await server.start();
  await error.getByRole('button', { name: 'Try again' }).click();
  await expect(page.locator('[data-testid="participant"][data-local="true"]')).toHaveCount(1);
  await expect(page.getByTestId('call-error')).toHaveCount(0);
  await page.getByTestId('leave').click();
});

test.describe.serial('the server dies mid-call', () => {
  let a: Page, b: Page;
  const call = 'ServerDies';

  test('the page says the connection is lost and the videos are frozen', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(a, 'publisher2'));
    await expectPlaying(tileOf(b, 'publisher1'));
    await expect(tileOf(a, 'publisher2').getByTestId('frozen')).toHaveCount(0);

    await server.kill();
    for (const [page, other] of [[a, 'publisher2'], [b, 'publisher1']] as const) {
      await expect(page.getByRole('status').filter({ hasText: 'Connection lost, reconnecting' })).toBeVisible();
      await expect(tileOf(page, other).getByTestId('frozen')).toHaveText('Video frozen');
    }
  });

  test('once the server is back: "You were disconnected", and Rejoin brings both back', async () => {
    await server.start();
    for (const page of [a, b]) {
      const error = page.getByTestId('call-error');
      await expect(error).toContainText('You were disconnected');
      await expect(page.getByRole('status').filter({ hasText: 'reconnecting' })).toHaveCount(0);
    }
    await a.getByRole('button', { name: 'Rejoin' }).click();
    await b.getByRole('button', { name: 'Rejoin' }).click();
    await expect(a.getByTestId('call-name')).toHaveText(call);
    await expectPlaying(tileOf(a, 'publisher2'));
    await expectPlaying(tileOf(b, 'publisher1'));
    await expect(tileOf(a, 'publisher2').getByTestId('nickname')).toHaveText('Bob');
    await expect(a.getByTestId('call-error')).toHaveCount(0);
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
