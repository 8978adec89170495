// The call's layout: a tile pinned large and unpinned (by keyboard too), one's own camera mirrored, the
// whole call on one screen without scrolling, desktop and phone. (The speaking highlight has no test: the
// fake microphone's short beeps never trigger openvidu-browser's speaking detection here.)
import { test, expect, Page } from '@playwright/test';
import { AppServer } from './server';
import { expectPlaying, join, loggedInPage, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 21000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async () => {
  await server.stop();
});

async function fitsWithoutScrolling(page: Page) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollHeight,
    inner: window.innerHeight,
  }));
  expect(scroll).toBeLessThanOrEqual(inner);
}

test.describe.serial('layout', () => {
  let a: Page, b: Page;
  const call = 'Layout';

  test('a tile is pinned large and unpinned, by keyboard and by click', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(b, 'publisher1'));
    await expect(b.getByTestId('main-caption')).toContainText('publisher1');

    const own = b.locator('[data-testid="participant"][data-local="true"]');
    const pin = own.getByRole('button', { name: 'Pin Bob (publisher2)' });
    await pin.focus();
    await b.keyboard.press('Enter');
    await expect(pin).toHaveAttribute('aria-pressed', 'true');
    await expect(b.getByTestId('main-caption')).toContainText('publisher2');
    // One's own camera is mirrored, large too.
    await expect(b.locator('.main-video')).toHaveClass(/mirror/);
    await pin.click();
    await expect(pin).toHaveAttribute('aria-pressed', 'false');
    await expect(b.getByTestId('main-caption')).toContainText('publisher1');
    await expect(b.locator('.main-video')).not.toHaveClass(/mirror/);
  });

  test('the call fits the screen without scrolling, desktop and phone', async () => {
    await b.setViewportSize({ width: 1280, height: 800 });
    await fitsWithoutScrolling(b);
    await b.setViewportSize({ width: 390, height: 844 });
    await fitsWithoutScrolling(b);
    await expect(b.getByRole('button', { name: 'Leave call' })).toBeInViewport();
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
