// What a person does and sees, in Playwright terms.
import { Browser, Page, expect } from '@playwright/test';

export async function loggedInPage(browser: Browser, url: string, user: string, password = 'pass'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('dialog', (d) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  });
  await page.goto(url);
  await login(page, user, password);
  await expect(page.getByTestId('me')).toContainText(user);
  return page;
}

export async function login(page: Page, user: string, password: string) {
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function join(page: Page, call: string, nickname: string) {
  await page.getByLabel('Call name').fill(call);
  await page.getByLabel('Nickname').fill(nickname);
  await page.getByRole('button', { name: 'Join' }).click();
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
