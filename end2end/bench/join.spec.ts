// How long joining takes, as a person sees it: from clicking Join to one's own video playing, and to the
// first remote video playing, over JOINS joins (default 20) of B into a call where A already sends video.
// Times are taken in the page (performance.now(), polled every 5 ms), so Playwright's own latency is not
// in them. Writes the figures to BENCH_OUT (JSON) and prints them. Run by scripts/bench-join.sh.
import { test, expect } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { AppServer } from '../tests/server';
import { join, loggedInPage } from '../tests/helpers';

const JOINS = Number(process.env.JOINS ?? 20);
const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 30000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async () => {
  await server.stop();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

test('join to video', async ({ browser }) => {
  const call = 'JoinBench';
  const a = await loggedInPage(browser, server.url, 'publisher1');
  await join(a, call, 'Ada');
  const b = await loggedInPage(browser, server.url, 'publisher2');
  const own: number[] = [];
  const remote: number[] = [];
  for (let i = 0; i < JOINS; i++) {
    await b.getByLabel('Call name').fill(call);
    await b.getByLabel('Nickname').fill('Bob');
    // As a person would: the lobby's preview plays before they click.
    await expect
      .poll(() => b.getByTestId('preview').evaluate((v: HTMLVideoElement) => v.readyState >= 2 && v.videoWidth > 0))
      .toBe(true);
    const t = await b.evaluate(
      () =>
        new Promise<{ own: number; remote: number }>((resolve, reject) => {
          const button = [...document.querySelectorAll('button')].find((x) => x.textContent?.trim() === 'Join');
          if (!button) return reject(new Error('no Join button'));
          const playing = (selector: string) =>
            [...document.querySelectorAll<HTMLVideoElement>(selector)].some((v) => v.readyState >= 2 && v.videoWidth > 0);
          let own: number | undefined;
          let remote: number | undefined;
          const t0 = performance.now();
          const deadline = t0 + 30_000;
          const tick = () => {
            const now = performance.now();
            if (own === undefined && playing('[data-testid="participant"][data-local="true"] video')) own = now - t0;
            if (remote === undefined && playing('[data-testid="participant"][data-local="false"] video')) remote = now - t0;
            if (own !== undefined && remote !== undefined) resolve({ own, remote });
            else if (now > deadline) reject(new Error(`no video after 30 s (own ${own}, remote ${remote})`));
            else setTimeout(tick, 5);
          };
          button.click();
          tick();
        }),
    );
    own.push(t.own);
    remote.push(t.remote);
    console.log(`join ${i + 1}/${JOINS}: own video ${t.own.toFixed(0)} ms, first remote video ${t.remote.toFixed(0)} ms`);
    await b.getByTestId('leave').click();
    await expect(b.getByLabel('Call name')).toBeVisible();
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return { p50: Math.round(percentile(s, 50)), p95: Math.round(percentile(s, 95)), min: Math.round(s[0]), max: Math.round(s[s.length - 1]) };
  };
  const report = { joins: JOINS, own_video_ms: stats(own), first_remote_video_ms: stats(remote) };
  console.log(JSON.stringify(report));
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(report, null, 2) + '\n');
});
