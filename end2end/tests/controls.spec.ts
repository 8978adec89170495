// The control bar: microphone and camera on and off (by button and by Ctrl+D / Ctrl+E), what the
// others then see and hear, the shortcuts dialog, and no such buttons for a subscriber.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectHearing, expectPlaying, expectSilence, holdsCamera, join, loggedInPage, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 13000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

test.describe.serial('microphone and camera', () => {
  let a: Page, b: Page;
  const call = 'Controls';

  test('A mutes: B sees the muted icon and hears nothing; unmuted with Ctrl+D, B hears A again', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada Lovelace');
    await join(b, call, 'Bob');
    const aAtB = tileOf(b, 'publisher1');
    await expectPlaying(aAtB);
    await expect(aAtB.getByTestId('muted')).toHaveCount(0);
    await expectHearing(b);

    const mic = a.getByRole('button', { name: 'Microphone' });
    await expect(mic).toHaveAttribute('aria-pressed', 'true');
    await mic.click();
    await expect(mic).toHaveAttribute('aria-pressed', 'false');
    await expect(aAtB.getByRole('img', { name: 'Microphone off' })).toBeVisible();
    await expectSilence(b);

    await a.keyboard.press('Control+d');
    await expect(mic).toHaveAttribute('aria-pressed', 'true');
    await expect(aAtB.getByTestId('muted')).toHaveCount(0);
    await expectHearing(b);
  });

  test('A turns the camera off: B sees the initials; on again with Ctrl+E, the video plays again', async () => {
    const aAtB = tileOf(b, 'publisher1');
    const camera = a.getByRole('button', { name: 'Camera' });
    await camera.click();
    await expect(camera).toHaveAttribute('aria-pressed', 'false');
    await expect(aAtB.getByTestId('initials')).toHaveText('AL');
    await expect(aAtB.getByText('Camera off')).toHaveCount(1);
    await expect(aAtB.locator('video')).toBeHidden();
    // A's own tile says the same.
    await expect(a.locator('[data-testid="participant"][data-local="true"]').getByTestId('initials')).toHaveText('AL');
    // And A's camera is let go, not just hidden: its light is off.
    await expect.poll(() => holdsCamera(a)).toBe(false);

    await a.keyboard.press('Control+e');
    await expect(camera).toHaveAttribute('aria-pressed', 'true');
    await expect(aAtB.getByTestId('camera-off')).toHaveCount(0);
    await expect(aAtB.locator('video')).toBeVisible();
    await expect.poll(() => holdsCamera(a)).toBe(true);
    await expectPlaying(aAtB);
  });

  test('the shortcuts are listed in a dialog that keeps the focus and that Escape closes', async () => {
    const button = a.getByRole('button', { name: 'Shortcuts' });
    await button.click();
    const dialog = a.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText('Ctrl + D');
    await expect(dialog).toContainText('Ctrl + E');
    const close = dialog.getByRole('button', { name: 'Close' });
    await expect(close).toBeFocused();
    // Tab and Shift+Tab stay in the dialog.
    await a.keyboard.press('Tab');
    await expect(close).toBeFocused();
    await a.keyboard.press('Shift+Tab');
    await expect(close).toBeFocused();
    // A click on the dialog's text takes the focus off Close; Tab brings it back.
    await dialog.getByRole('heading', { name: 'Keyboard shortcuts' }).click();
    await expect(close).not.toBeFocused();
    await a.keyboard.press('Tab');
    await expect(close).toBeFocused();
    await a.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await expect(button).toBeFocused();
  });

  test('a subscriber has no microphone or camera button', async ({ browser }) => {
    const sub = await loggedInPage(browser, server.url, 'subscriber');
    await join(sub, call, 'Watcher');
    await expectPlaying(tileOf(sub, 'publisher1'));
    await expect(sub.getByRole('button', { name: 'Leave call' })).toBeVisible();
    await expect(sub.getByRole('button', { name: 'Microphone' })).toHaveCount(0);
    await expect(sub.getByRole('button', { name: 'Camera' })).toHaveCount(0);
    await sub.getByTestId('leave').click();
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});

test('keyboard only: log in, join, mute, leave', async ({ browser }) => {
  const page = await browser.newPage();
  await page.goto(server.url);
  await expect(page.getByRole('heading', { name: 'Video calls' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('User')).toBeFocused();
  await page.keyboard.type('publisher1');
  await page.keyboard.press('Tab');
  await page.keyboard.type('pass');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Join a video call' })).toBeFocused();
  await expect(page).toHaveTitle(/Join/);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Call name')).toBeFocused();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('KeyboardOnly');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Call KeyboardOnly' })).toBeFocused();
  await expect(page).toHaveTitle('KeyboardOnly — call');
  const mic = page.getByRole('button', { name: 'Microphone' });
  await expect(mic).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('Control+d');
  await expect(mic).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('[data-testid="participant"][data-local="true"]').getByTestId('muted')).toBeVisible();
  // Tab along to the leave button and press it.
  const leave = page.getByRole('button', { name: 'Leave call' });
  for (let i = 0; i < 20 && !(await leave.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(leave).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Join a video call' })).toBeFocused();
});

test('joining with microphone and camera off: the others see it from the start; the choice is remembered', async ({ browser }) => {
  const a = await loggedInPage(browser, server.url, 'publisher1');
  const b = await loggedInPage(browser, server.url, 'publisher2');
  await a.getByLabel('Join with microphone off').check();
  await a.getByLabel('Join with camera off').check();
  await join(a, 'StartOff', 'Ada Lovelace');
  await join(b, 'StartOff', 'Bob');
  const aAtB = tileOf(b, 'publisher1');
  await expect(aAtB.getByTestId('muted')).toBeVisible();
  await expect(aAtB.getByTestId('initials')).toHaveText('AL');
  await expect(a.getByRole('button', { name: 'Microphone' })).toHaveAttribute('aria-pressed', 'false');
  await expect(a.getByRole('button', { name: 'Camera' })).toHaveAttribute('aria-pressed', 'false');
  // Off from the start: A's camera is not held during the call.
  await expect.poll(() => holdsCamera(a)).toBe(false);
  // Turned on from the call, the camera is seen.
  await a.getByRole('button', { name: 'Camera' }).click();
  await expect(aAtB.getByTestId('camera-off')).toHaveCount(0);
  await expect.poll(() => holdsCamera(a)).toBe(true);
  await expectPlaying(aAtB);
  await a.getByTestId('leave').click();
  await a.reload();
  await expect(a.getByLabel('Join with microphone off')).toBeChecked();
  await expect(a.getByLabel('Join with camera off')).toBeChecked();
  // A subscriber is never asked.
  const sub = await loggedInPage(browser, server.url, 'subscriber');
  await expect(sub.getByLabel('Join with microphone off')).toHaveCount(0);
  await b.getByTestId('leave').click();
});
