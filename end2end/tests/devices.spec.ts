// A publisher whose browser refuses the camera and microphone is told so in words, and still sees the
// others.
import { expect, Browser, BrowserType } from '@playwright/test';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';
import { launchChromium, launchOptionsWith, test } from './browser';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 11000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

// The same Chromium, but permission prompts are refused instead of accepted. Without a granted camera or
// microphone, Chromium hides its host addresses behind mDNS (`.local`) candidates; `exposeHost` turns that
// off.
async function denyingBrowser(playwright: { chromium: BrowserType }, exposeHost: boolean): Promise<Browser> {
  const options = launchOptionsWith((args) => {
    args = args.filter((a) => a !== '--use-fake-ui-for-media-stream');
    args.push('--deny-permission-prompts');
    if (exposeHost) args.push('--disable-features=WebRtcHideLocalIpsWithMdns');
    return args;
  });
  return launchChromium(playwright.chromium, options);
}

async function deniedPublisherSeesTheOther(browser: Browser, denying: Browser, call: string) {
  const other = await loggedInPage(browser, server.url, 'publisher1');
  await join(other, call, 'HasCamera');
  const page = await loggedInPage(denying, server.url, 'publisher2');
  await join(page, call, 'NoCamera');
  await expect(page.getByTestId('call-error')).toContainText('camera or microphone could not be used');
  await expect(page.locator('[data-testid="participant"][data-local="true"]')).toHaveCount(0);
  await expectPlaying(tileOf(page, 'publisher1'));
  await other.getByTestId('leave').click();
}

test('camera and microphone denied: a message in words, and the others are still seen', async ({ browser, playwright }) => {
  const denying = await denyingBrowser(playwright, true);
  try {
    await deniedPublisherSeesTheOther(browser, denying, 'Devices');
  } finally {
    await denying.close();
  }
});

// Not testable in the loopback-only namespace: a Chromium that must hide its host addresses (no camera
// or microphone granted) gathers no loopback candidate at all and sends no connectivity check (tcpdump on
// lo: not one UDP packet from its side). On a real network it checks from its mDNS-hidden host address
// and the ICE-lite server learns that address from the checks. Kept as a record, skipped.
test.fixme('a browser that offers only mDNS candidates still receives media', async ({ browser, playwright }) => {
  const denying = await denyingBrowser(playwright, false);
  try {
    await deniedPublisherSeesTheOther(browser, denying, 'DevicesMdns');
  } finally {
    await denying.close();
  }
});

// The same from a subscriber, whose browser is never granted a camera (it never asks): in the namespace it
// sends no checks either. The main tests run Chromium with --use-fake-ui-for-media-stream, which lets it
// expose its loopback candidate.
test.fixme('a subscriber whose browser was never granted a camera receives media', async ({ browser, playwright }) => {
  const options = launchOptionsWith((args) => args.filter((a) => a !== '--use-fake-ui-for-media-stream'));
  const plain = await launchChromium(playwright.chromium, options);
  try {
    const other = await loggedInPage(browser, server.url, 'publisher1');
    await join(other, 'SubMdns', 'HasCamera');
    const page = await loggedInPage(plain, server.url, 'subscriber');
    await join(page, 'SubMdns', 'Watcher');
    await expectPlaying(tileOf(page, 'publisher1'));
  } finally {
    await plain.close();
  }
});
