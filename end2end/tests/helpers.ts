// What a person does and sees, in Playwright terms.
import { Browser, BrowserType, Page, expect } from '@playwright/test';
import { launchChromium, launchOptionsWith } from './browser';

export async function loggedInPage(browser: Browser, url: string, user: string, password = 'pass'): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript(recordPeerConnections);
  const page = await context.newPage();
  page.on('dialog', (d) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  });
  await page.goto(url);
  await login(page, user, password);
  await expect(page.getByTestId('me')).toContainText(user);
  return page;
}

/**
 * Closes every context opened on `browser`, for a file's afterAll. Playwright closes only the contexts of
 * its own `page` fixture: one opened with `browser.newContext()` would otherwise stay, with its camera and
 * its call, through every file after this one, and the machine slows down file by file.
 */
export async function closeContexts(browser: Browser) {
  await Promise.all(browser.contexts().map((c) => c.close()));
}

export async function login(page: Page, user: string, password: string) {
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function join(page: Page, call: string, nickname: string) {
  await page.getByLabel('Call name').fill(call);
  await page.getByLabel('Nickname').fill(nickname);
  // Exactly "Join": the lobby may also offer "Join without camera".
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await expect(page.getByTestId('call-name')).toHaveText(call);
}

/** The participant tile of `user` (not one's own). */
export function tileOf(page: Page, user: string) {
  return page.locator(`[data-testid="participant"][data-user="${user}"][data-local="false"]`);
}

/** Waits until the video in `tile` has decoded frames and keeps decoding them. */
export async function expectPlaying(tile: ReturnType<typeof tileOf>) {
  const video = tile.locator('video');
  await expect
    .poll(async () => video.evaluate((v: HTMLVideoElement) => v.readyState >= 2 && v.videoWidth > 0), { timeout: 45_000 })
    .toBe(true);
  const frames = () => video.evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames);
  const first = await frames();
  await expect.poll(frames, { timeout: 15_000 }).toBeGreaterThan(first);
}

/** Runs in the page before its scripts: keeps every RTCPeerConnection, so that a test can read its stats. */
function recordPeerConnections() {
  const w = window as unknown as { __pcs: RTCPeerConnection[]; RTCPeerConnection: typeof RTCPeerConnection };
  const Original = w.RTCPeerConnection;
  w.__pcs = [];
  w.RTCPeerConnection = class extends Original {
    constructor(config?: RTCConfiguration) {
      super(config);
      w.__pcs.push(this);
    }
  };
}

/**
 * Whether `page` holds a running camera for its call: a live video track sent on one of its connections.
 * A camera turned off is let go (its light goes off), so this reads false then.
 */
export async function holdsCamera(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? [];
    return pcs.some(
      (pc) =>
        pc.connectionState !== 'closed' &&
        pc.getSenders().some((s) => s.track?.kind === 'video' && s.track.readyState === 'live'),
    );
  });
}

/**
 * All the sound `page` has received so far (inbound-rtp audio, from getStats): its energy (the sum of
 * level² × seconds) and its duration in seconds.
 */
export async function inboundAudio(page: Page): Promise<{ energy: number; seconds: number }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? [];
    let energy = 0;
    let seconds = 0;
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          energy += s.totalAudioEnergy ?? 0;
          seconds += s.totalSamplesDuration ?? 0;
        }
      });
    }
    return { energy, seconds };
  });
}

/**
 * Below this level (-60 dBFS) a person hears nothing. A muted microphone's silence, once decoded, may
 * still move by one sample step (-90 dBFS): silent to the ear, though its energy grows.
 */
const SILENT_LEVEL = 0.001;

/** The level (RMS, 0 to 1) of what `page` received between `from` and `to`; 0 if no time passed. */
function levelBetween(from: { energy: number; seconds: number }, to: { energy: number; seconds: number }) {
  const seconds = to.seconds - from.seconds;
  return seconds > 0 ? Math.sqrt(Math.max(0, to.energy - from.energy) / seconds) : 0;
}

/** Waits until `page` receives sound a person can hear. */
export async function expectHearing(page: Page) {
  const first = await inboundAudio(page);
  await expect
    .poll(async () => levelBetween(first, await inboundAudio(page)), { timeout: 20_000 })
    .toBeGreaterThan(SILENT_LEVEL);
}

/** Waits until `page` hears nothing: five readings in a row, half a second apart, each below the silent level. */
export async function expectSilence(page: Page) {
  let last = await inboundAudio(page);
  let quiet = 0;
  await expect
    .poll(
      async () => {
        const now = await inboundAudio(page);
        // No time received counts as not quiet: silence is heard, not assumed.
        quiet = now.seconds > last.seconds && levelBetween(last, now) < SILENT_LEVEL ? quiet + 1 : 0;
        last = now;
        return quiet;
      },
      { timeout: 30_000, intervals: [500] },
    )
    .toBeGreaterThanOrEqual(5);
}

/** Opens a side panel (Chat, Participants) with its control-bar button, unless it is open. */
export async function openPanel(page: Page, name: 'Chat' | 'Participants') {
  const button = page.getByRole('toolbar', { name: 'Call controls' }).getByRole('button', { name: new RegExp(`^${name}`) });
  if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click();
  await expect(button).toHaveAttribute('aria-pressed', 'true');
}

type Playwright = { chromium: BrowserType };

/**
 * The test Chromium with three fake cameras and microphones. Use `fake_device_0` or `fake_device_2`:
 * Chromium's second fake camera (`fake_device_1`) gives Y16 (depth) frames, which show in a <video>
 * but never reach a WebRTC encoder (checked here: a sender given its track encodes nothing).
 */
export function threeCameras(playwright: Playwright): Promise<Browser> {
  const options = launchOptionsWith((args) =>
    args.map((a) => (a === '--use-fake-device-for-media-stream' ? '--use-fake-device-for-media-stream=device-count=3' : a)),
  );
  return launchChromium(playwright.chromium, options);
}
