// The "Poor connection" badge: when a quarter of the media packets are lost on the way (netfilter drops
// them at random, in the test's own loopback-only namespace), B's tile of A says so; once the network is
// good again the badge goes and A's video plays on.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { execFileSync } from 'node:child_process';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';
import { checkCanCut } from './netcut';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 28000);
const TABLE = 'e2e_lossy';

function nft(script: string) {
  execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'inherit', 'inherit'] });
}

/** Drops `percent` % of all UDP packets (the media; signalling is TCP) until `clear()`. */
function lose(percent: number) {
  nft(`table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
  chain output {
    type filter hook output priority filter; policy accept;
    meta l4proto udp numgen random mod 100 < ${percent} drop
  }
}
`);
}

function clear() {
  nft(`table inet ${TABLE}
delete table inet ${TABLE}
`);
}

test.beforeAll(async () => {
  // Only ever inside the loopback-only namespace: the rule would degrade a real network.
  checkCanCut();
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  clear();
  await server.stop();
});

test('packets lost on the way: B sees "Poor connection" on A\'s tile, until the network is good again', async ({ browser }) => {
  const a: Page = await loggedInPage(browser, server.url, 'publisher1');
  const b: Page = await loggedInPage(browser, server.url, 'publisher2');
  const call = 'Quality';
  await join(a, call, 'Ada');
  await join(b, call, 'Bob');
  const ada = tileOf(b, 'publisher1');
  await expectPlaying(ada);
  // Judged (two readings compared) and good.
  await expect(ada).toHaveAttribute('data-connection', 'good');
  await expect(ada.getByTestId('poor-connection')).toHaveCount(0);

  lose(25);
  await expect(ada.getByTestId('poor-connection')).toBeVisible();
  await expect(ada.getByTestId('poor-connection')).toHaveText('Poor connection');
  await expect(ada).toHaveAttribute('data-connection', 'poor');

  clear();
  await expect(ada).toHaveAttribute('data-connection', 'good');
  await expect(ada.getByTestId('poor-connection')).toHaveCount(0);
  await expect(ada.getByTestId('frozen')).toHaveCount(0);
  await expectPlaying(ada);
  for (const p of [a, b]) await p.getByTestId('leave').click();
});
