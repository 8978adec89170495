// Switching devices during a call (the Devices panel): the camera or microphone chosen is the one sent
// from then on, without leaving or renegotiating, the others keep seeing and hearing, and the choice is
// remembered for the next call. With the camera off, the choice waits until it is turned on.
import { expect, Browser, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectHearing, expectPlaying, join, loggedInPage, threeCameras, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 26000);

test.beforeAll(async () => {
  await server.start();
});
let threeCameraBrowser: Browser | undefined;
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await threeCameraBrowser?.close();
  await server.stop();
});

/** The labels of the live tracks `page` sends, of `kind`. */
async function sent(page: Page, kind: 'audio' | 'video'): Promise<string[]> {
  return page.evaluate((kind) => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? [];
    return pcs
      .filter((pc) => pc.connectionState !== 'closed')
      .flatMap((pc) => pc.getSenders())
      .map((s) => s.track)
      .filter((t): t is MediaStreamTrack => !!t && t.kind === kind && t.readyState === 'live')
      .map((t) => t.label);
  }, kind);
}

test.describe.serial('switching devices in a call', () => {
  let a: Page, b: Page;
  const call = 'Switching';

  test('A switches camera and microphone: A sends the new ones, B keeps seeing and hearing A', async ({ browser, playwright }) => {
    threeCameraBrowser = await threeCameras(playwright);
    a = await loggedInPage(threeCameraBrowser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(b, 'publisher1'));
    const before = await sent(a, 'video');
    expect(before).toHaveLength(1);

    await a.getByRole('button', { name: 'Devices' }).click();
    const panel = a.getByTestId('devices');
    const camera = panel.getByRole('combobox', { name: 'Camera', exact: true });
    await expect(camera.locator('option')).toHaveCount(3);
    expect(before).toEqual(['fake_device_0']);
    await camera.selectOption({ label: 'fake_device_2' });
    await expect.poll(() => sent(a, 'video')).toEqual(['fake_device_2']);
    await expectPlaying(tileOf(b, 'publisher1'));

    const microphone = panel.getByRole('combobox', { name: 'Microphone', exact: true });
    await expect.poll(() => microphone.locator('option').count()).toBeGreaterThan(1);
    const [mic] = await sent(a, 'audio');
    const otherMic = (await microphone.locator('option').allTextContents()).find((l) => l !== mic && !/default/i.test(l));
    expect(otherMic, 'the fake microphone offers a second device').toBeTruthy();
    await microphone.selectOption({ label: otherMic! });
    await expect.poll(() => sent(a, 'audio')).toEqual([otherMic]);
    await expectHearing(b);

    // With the camera off (and let go), a camera chosen is only remembered: turned on, that one is sent.
    const cameraButton = a.getByRole('button', { name: 'Camera', exact: true });
    await cameraButton.click();
    await expect(cameraButton).toHaveAttribute('aria-pressed', 'false');
    await expect.poll(() => sent(a, 'video')).toEqual([]);
    await camera.selectOption({ label: 'fake_device_0' });
    await cameraButton.click();
    await expect(cameraButton).toHaveAttribute('aria-pressed', 'true');
    await expect.poll(() => sent(a, 'video')).toEqual(['fake_device_0']);
    await expectPlaying(tileOf(b, 'publisher1'));
    await expect(a.getByTestId('call-notice')).toHaveCount(0);
  });

  test('the camera chosen in the call is the one the next call starts with', async () => {
    const [camera] = await sent(a, 'video');
    await a.getByTestId('leave').click();
    await join(a, call, 'Ada');
    await expect.poll(() => sent(a, 'video')).toEqual([camera]);
    await expectPlaying(tileOf(b, 'publisher1'));
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
