// The call's layout: every video shown once; the speaker layout (one tile large, the others small), a
// tile pinned large and unpinned by keyboard and by click, one's own camera mirrored; the grid view (equal
// tiles, remembered, in pages of nine past that); a tile full screen; the whole call on one screen
// without scrolling, desktop and phone.
import { expect, Page, Locator } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 21000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

async function fitsWithoutScrolling(page: Page) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollHeight,
    inner: window.innerHeight,
  }));
  expect(scroll).toBeLessThanOrEqual(inner);
}

async function box(l: Locator) {
  const b = await l.boundingBox();
  if (!b) throw new Error('not shown');
  return b;
}

function tiles(page: Page) {
  return page.getByTestId('participant');
}

function ownTile(page: Page) {
  return page.locator('[data-testid="participant"][data-local="true"]');
}

test.describe.serial('layout', () => {
  let a: Page, b: Page;
  const call = 'Layout';

  test('speaker layout: the other person large, each video once; a pin by keyboard and by click', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(b, 'publisher1'));
    await expect(b.getByRole('button', { name: 'Grid view' })).toHaveAttribute('aria-pressed', 'false');

    // Two people, two videos: the large one is a tile, not a copy of one.
    await expect(tiles(b)).toHaveCount(2);
    await expect(b.locator('video')).toHaveCount(2);
    await expect(tileOf(b, 'publisher1')).toHaveClass(/featured/);
    await expect(ownTile(b)).not.toHaveClass(/featured/);
    expect((await box(tileOf(b, 'publisher1'))).width).toBeGreaterThan(2 * (await box(ownTile(b))).width);

    const pin = ownTile(b).getByRole('button', { name: 'Pin Bob (publisher2)' });
    await pin.focus();
    await b.keyboard.press('Enter');
    await expect(pin).toHaveAttribute('aria-pressed', 'true');
    await expect(ownTile(b)).toHaveClass(/featured/);
    // One's own camera is mirrored, large too; the other's never is.
    await expect(ownTile(b)).toHaveClass(/mirror/);
    await expect(tileOf(b, 'publisher1')).not.toHaveClass(/mirror/);
    await expect(tileOf(b, 'publisher1')).not.toHaveClass(/featured/);
    await pin.click();
    await expect(pin).toHaveAttribute('aria-pressed', 'false');
    await expect(tileOf(b, 'publisher1')).toHaveClass(/featured/);
  });

  test('grid view: the same size for everyone, a tile full screen and back', async () => {
    await b.getByRole('button', { name: 'Grid view' }).click();
    await expect(b.getByRole('button', { name: 'Grid view' })).toHaveAttribute('aria-pressed', 'true');
    await expect(b.locator('[data-testid="participant"].featured')).toHaveCount(0);
    const [mine, theirs] = [await box(ownTile(b)), await box(tileOf(b, 'publisher1'))];
    expect(Math.abs(mine.width - theirs.width)).toBeLessThanOrEqual(1);
    expect(Math.abs(mine.height - theirs.height)).toBeLessThanOrEqual(1);
    await expectPlaying(tileOf(b, 'publisher1'));

    const full = tileOf(b, 'publisher1').getByRole('button', { name: 'Show Ada (publisher1) full screen' });
    await full.click();
    await expect(full).toHaveAttribute('aria-pressed', 'true');
    await expect.poll(() => b.evaluate(() => document.fullscreenElement?.getAttribute('data-user'))).toBe('publisher1');
    await full.click();
    await expect(full).toHaveAttribute('aria-pressed', 'false');
    await expect.poll(() => b.evaluate(() => document.fullscreenElement === null)).toBe(true);
  });

  test('the call fits the screen without scrolling, desktop and phone, in both layouts', async () => {
    for (const grid of ['true', 'false']) {
      const toggle = b.getByRole('button', { name: 'Grid view' });
      if ((await toggle.getAttribute('aria-pressed')) !== grid) await toggle.click();
      await expect(toggle).toHaveAttribute('aria-pressed', grid);
      for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
        await b.setViewportSize(size);
        await fitsWithoutScrolling(b);
        await expect(b.getByRole('button', { name: 'Leave call' })).toBeInViewport();
        for (const tile of await tiles(b).all()) await expect(tile).toBeInViewport();
        const name = `call-${size.width < 800 ? 'phone' : 'desktop'}-${grid === 'true' ? 'grid' : 'speaker'}.png`;
        await b.screenshot({ path: test.info().outputPath(name) });
      }
    }
    await b.setViewportSize({ width: 1280, height: 800 });
  });

  test('past nine people the grid pages, and the choice of grid is remembered', async () => {
    // Nine more cameras from A's browser (openvidu-browser driven by hand, small and silent).
    await a.evaluate(async (call) => {
      const OV = (window as unknown as { OpenVidu: new () => any }).OpenVidu;
      const extra: any[] = [];
      for (let i = 1; i <= 9; i++) {
        const res = await fetch('/api/get-token', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ call }),
        });
        const ticket = await res.json();
        const ov = new OV();
        const session = ov.initSession();
        await session.connect(ticket.token, { clientData: `Extra ${i}` });
        const publisher = await ov.initPublisherAsync(undefined, {
          audioSource: false,
          publishAudio: false,
          resolution: '160x120',
          frameRate: 5,
        });
        await session.publish(publisher);
        extra.push(session);
      }
      (window as unknown as { extra: unknown[] }).extra = extra;
    }, call);
    const toggle = b.getByRole('button', { name: 'Grid view' });
    if ((await toggle.getAttribute('aria-pressed')) !== 'true') await toggle.click();
    await expect(tiles(b)).toHaveCount(11);
    await expect(b.getByTestId('page')).toHaveText('Page 1 of 2');
    const visible = b.locator('[data-testid="participant"]:visible');
    await expect(visible).toHaveCount(9);
    await b.getByRole('button', { name: 'Next page' }).click();
    await expect(b.getByTestId('page')).toHaveText('Page 2 of 2');
    await expect(visible).toHaveCount(2);
    await expect(b.getByRole('button', { name: 'Next page' })).toHaveAttribute('aria-disabled', 'true');
    await expect(b.getByRole('button', { name: 'Next page' })).toBeFocused();
    await fitsWithoutScrolling(b);
    await b.screenshot({ path: test.info().outputPath('call-desktop-grid-page-2.png') });

    // The extra cameras leave: one page, no pager, and B is still on a page that exists.
    await a.evaluate(() => (window as unknown as { extra: { disconnect(): void }[] }).extra.forEach((s) => s.disconnect()));
    await expect(tiles(b)).toHaveCount(2);
    await expect(b.getByTestId('page')).toHaveCount(0);
    await expect(visible).toHaveCount(2);

    // Grid view stays chosen in this browser for the next call.
    await b.getByTestId('leave').click();
    await join(b, call, 'Bob');
    await expect(b.getByRole('button', { name: 'Grid view' })).toHaveAttribute('aria-pressed', 'true');
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
