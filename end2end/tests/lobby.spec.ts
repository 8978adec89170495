// The lobby before joining: a live preview of one's camera, the microphone's level, the choice of
// camera and microphone (remembered, and used by the call); a browser that refuses them is told why,
// with a way on.
import { expect, Browser, Locator } from '@playwright/test';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, threeCameras, tileOf } from './helpers';
import { launchChromium, launchOptionsWith, test } from './browser';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 24000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

/** The label of the camera track a video element shows. */
function cameraOf(video: Locator): Promise<string | undefined> {
  return video.evaluate((v: HTMLVideoElement) => (v.srcObject as MediaStream | null)?.getVideoTracks()[0]?.label);
}

/** Waits until `video` shows pictures and its time advances. */
async function expectLive(video: Locator) {
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState >= 2 && v.videoWidth > 0)).toBe(true);
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(t0);
}

test('the lobby shows a playing preview and a moving level; the chosen camera is remembered and used in the call', async ({ playwright }) => {
  const browser = await threeCameras(playwright);
  try {
    const page = await loggedInPage(browser, server.url, 'publisher1');
    const preview = page.getByTestId('preview');
    await expectLive(preview);
    await expect.poll(() => page.getByTestId('mic-level').evaluate((m: HTMLMeterElement) => m.value)).toBeGreaterThan(0);

    const camera = page.getByRole('combobox', { name: 'Camera', exact: true });
    await expect(camera.locator('option')).toHaveCount(3);
    // Nothing chosen yet: each list shows the device in use (the browser's default), not a blank.
    await expect(camera).toHaveValue(/./);
    expect(await camera.locator('option:checked').textContent()).toBe(await cameraOf(preview));
    await expect(page.getByRole('combobox', { name: 'Microphone', exact: true })).toHaveValue(/./);
    await expect(page.getByRole('combobox', { name: 'Microphone', exact: true })).toBeVisible();
    await camera.selectOption({ label: 'fake_device_2' });
    await expect.poll(() => cameraOf(preview)).toBe('fake_device_2');
    await expectLive(preview);

    // Remembered in this browser.
    await page.reload();
    await expect(camera).toHaveValue(await camera.locator('option', { hasText: 'fake_device_2' }).getAttribute('value') ?? '');
    await expect.poll(() => cameraOf(preview)).toBe('fake_device_2');

    // The call publishes that camera.
    await join(page, 'Lobby', 'Ada');
    const own = page.locator('[data-testid="participant"][data-local="true"] video');
    await expect.poll(() => cameraOf(own)).toBe('fake_device_2');
    await expect(page.getByTestId('preview')).toHaveCount(0);
    await page.getByTestId('leave').click();
  } finally {
    await browser.close();
  }
});

test('after leaving a call the lobby shows the camera again', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'publisher2');
  await expectLive(page.getByTestId('preview'));
  await join(page, 'LobbyAgain', 'Bob');
  await page.getByTestId('leave').click();
  await expect(page.getByLabel('Call name')).toBeVisible();
  await expectLive(page.getByTestId('preview'));
  await expect(page.getByRole('status').filter({ hasText: 'Starting camera' })).toHaveCount(0);
});

test('"Join with camera off" lets go of the camera in the lobby too; unticked, the preview plays again', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'publisher1');
  const preview = page.getByTestId('preview');
  await expectLive(preview);
  const liveCameras = () =>
    preview.evaluate((v: HTMLVideoElement) =>
      ((v.srcObject as MediaStream | null)?.getVideoTracks() ?? []).filter((t) => t.readyState === 'live').length,
    );
  const off = page.getByLabel('Join with camera off');
  await off.check();
  await expect(page.getByText('Your camera will be off')).toBeVisible();
  await expect.poll(liveCameras).toBe(0);
  // The microphone stays, with its level.
  await expect.poll(() => page.getByTestId('mic-level').evaluate((m: HTMLMeterElement) => m.value)).toBeGreaterThan(0);
  await off.uncheck();
  await expect.poll(liveCameras).toBe(1);
  await expectLive(preview);
});

test('a subscriber gets no lobby and is never asked for a camera', async ({ browser }) => {
  const page = await loggedInPage(browser, server.url, 'subscriber');
  await expect(page.getByRole('button', { name: 'Join', exact: true })).toBeVisible();
  await expect(page.getByTestId('preview')).toHaveCount(0);
  await expect(page.getByRole('combobox')).toHaveCount(0);
});

test('camera and microphone refused: the lobby says why, and "Join without" joins to see and hear the others', async ({ browser, playwright }) => {
  // Refused prompts; host addresses not hidden behind mDNS (see devices.spec.ts).
  const options = launchOptionsWith((args) => [
    ...args.filter((a) => a !== '--use-fake-ui-for-media-stream'),
    '--deny-permission-prompts',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
  ]);
  const denying: Browser = await launchChromium(playwright.chromium, options);
  try {
    const other = await loggedInPage(browser, server.url, 'publisher2');
    await join(other, 'LobbyDenied', 'HasCamera');
    const page = await loggedInPage(denying, server.url, 'publisher1');
    await expect(page.getByTestId('device-problem')).toContainText(
      'This page cannot use your camera and microphone: the browser was not allowed to.',
    );
    await page.getByLabel('Call name').fill('LobbyDenied');
    await page.getByRole('button', { name: 'Join without camera and microphone' }).click();
    await expect(page.getByTestId('call-notice')).toHaveText(
      'You joined without camera and microphone: the others neither see nor hear you.',
    );
    await expect(page.getByTestId('call-error')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Microphone' })).toBeHidden();
    await expectPlaying(tileOf(page, 'publisher2'));
    await page.getByTestId('leave').click();
    await other.getByTestId('leave').click();
  } finally {
    await denying.close();
  }
});
