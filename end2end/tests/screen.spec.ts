// Screen sharing: a second stream from A with typeOfVideo SCREEN (headless Chromium's fake screen),
// shown large at B beside A's camera, gone when A stops, by the button or by the browser's own stop.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 20000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

function screenOf(page: Page, user: string) {
  return page.locator(`[data-testid="participant"][data-user="${user}"][data-local="false"][data-screen="true"]`);
}
function cameraOf(page: Page, user: string) {
  return page.locator(`[data-testid="participant"][data-user="${user}"][data-local="false"][data-screen="false"]`);
}

test.describe.serial('screen share', () => {
  let a: Page, b: Page;
  const call = 'Screens';

  test('B gets a second tile from A decoding the screen, shown large, A\'s camera still seen', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(b, 'publisher1'));

    const share = a.getByRole('button', { name: 'Share screen' });
    await expect(share).toHaveAttribute('aria-pressed', 'false');
    await share.click();
    await expect(a.getByRole('button', { name: 'Stop sharing' })).toHaveAttribute('aria-pressed', 'true');

    await expect(tileOf(b, 'publisher1')).toHaveCount(2);
    await expectPlaying(screenOf(b, 'publisher1'));
    await expect(screenOf(b, 'publisher1').getByTestId('user')).toHaveText('publisher1: screen');
    // Large: the screen's tile (the fake screen is 1280 wide; the camera sends 640), and only once.
    await expect(screenOf(b, 'publisher1')).toHaveClass(/featured/);
    await expect(b.locator('video')).toHaveCount(3);
    await expect
      .poll(() => screenOf(b, 'publisher1').locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 30_000 })
      .toBeGreaterThan(640);
    // The camera stays visible.
    await expectPlaying(cameraOf(b, 'publisher1'));
    // The share is not one more person.
    await b.getByRole('button', { name: 'Participants' }).click();
    await expect(b.getByRole('heading', { name: 'Participants (2)' })).toBeVisible();
    await b.getByRole('button', { name: /^Chat/ }).click();
    await b.setViewportSize({ width: 1280, height: 800 });
    await b.screenshot({ path: test.info().outputPath('call-desktop-share-chat.png') });
    await b.setViewportSize({ width: 390, height: 844 });
    // On a phone the open chat covers no control and no tile.
    await expect(b.getByRole('button', { name: 'Microphone' })).toBeInViewport();
    const panel = await b.getByTestId('chat').evaluate((e) => e.getBoundingClientRect().toJSON());
    const controlsTop = await b.getByRole('toolbar', { name: 'Call controls' }).evaluate((e) => e.getBoundingClientRect().top);
    expect(panel.bottom).toBeLessThanOrEqual(controlsTop);
    for (const tile of await b.getByTestId('participant').all()) {
      await expect(tile).toBeInViewport();
      expect(await tile.evaluate((e) => e.getBoundingClientRect().bottom)).toBeLessThanOrEqual(panel.top);
    }
    await b.screenshot({ path: test.info().outputPath('call-phone-share-chat.png') });
    await b.getByRole('button', { name: /^Chat/ }).click();
  });

  test('A stops sharing: the tile is gone at B, the camera stays', async () => {
    await a.getByRole('button', { name: 'Stop sharing' }).click();
    await expect(a.getByRole('button', { name: 'Share screen' })).toHaveAttribute('aria-pressed', 'false');
    await expect(screenOf(b, 'publisher1')).toHaveCount(0);
    await expect(cameraOf(b, 'publisher1')).toHaveCount(1);
    await expect(cameraOf(b, 'publisher1')).toHaveClass(/featured/);
  });

  test('the browser\'s own "Stop sharing" ends it too', async () => {
    await a.getByRole('button', { name: 'Share screen' }).click();
    await expectPlaying(screenOf(b, 'publisher1'));
    // What Chromium's "Stop sharing" bar does: the captured track ends (fired as the browser fires it).
    await a.locator('[data-testid="participant"][data-local="true"][data-screen="true"] video').evaluate((v: HTMLVideoElement) => {
      const track = (v.srcObject as MediaStream).getVideoTracks()[0];
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await expect(a.getByRole('button', { name: 'Share screen' })).toHaveAttribute('aria-pressed', 'false');
    await expect(screenOf(b, 'publisher1')).toHaveCount(0);
    await expect(cameraOf(b, 'publisher1')).toHaveCount(1);
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
