// Cutting one browser's network for real. In the loopback-only namespace Playwright's
// `context.setOffline` stops neither WebRTC nor an open WebSocket, so the browser to cut runs under its
// own uid (end2end/chromium-as-user.sh) and netfilter drops its packets: the output hook marks the
// connections of that uid's sockets (`meta skuid`), the input hook drops every packet of a marked
// connection, both ways, as a dead link would (no sender is told; TCP retransmits, UDP is lost).
// Removing the table ends the cut. Needs root and nftables (end2end/run.sh installs it) in the test's
// own network namespace; anything else fails loudly rather than skipping.
import { Browser, LaunchOptions, chromium } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { launchChromium } from './browser';
import { resolve } from 'node:path';

/** The user the cuttable browser runs as; nothing else in the namespace runs as it. */
const USER = 'nobody';
const TABLE = 'e2e_netcut';
/** The conntrack mark of the cut browser's connections ("net"). */
const MARK = '0x6e6574';
const WRAPPER = resolve(__dirname, '..', 'chromium-as-user.sh');

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/**
 * Throws, saying why, unless cutting can work here: nft present and usable, and this process in a
 * namespace of its own with only `lo` (so a rule can never touch the machine's real network).
 */
export function checkCanCut() {
  const links = run('ip', ['-o', 'link', 'show'])
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.split(':')[1].trim().split('@')[0]);
  if (links.join() !== 'lo') {
    throw new Error(`network cuts need the loopback-only namespace of end2end/run.sh; interfaces here: ${links.join(', ')}`);
  }
  try {
    run('nft', ['list', 'tables']);
  } catch (e) {
    throw new Error(`network cuts need nftables, as root (end2end/run.sh installs it): ${(e as Error).message}`);
  }
}

/** A Chromium whose network `cut()` can take away: the configured launch options, run as `USER`. */
export async function launchCuttable(launchOptions: LaunchOptions): Promise<Browser> {
  return launchChromium(chromium, {
    ...launchOptions,
    executablePath: WRAPPER,
    env: { ...process.env, ...launchOptions.env, NETCUT_USER: USER, CHROMIUM: launchOptions.executablePath ?? '/usr/bin/chromium' },
  });
}

/** Drops every packet to and from the cuttable browser, from now until `restore()`. */
export function cut() {
  const uid = run('id', ['-u', USER]).trim();
  // Declaring the table first makes the delete succeed when it does not exist yet.
  run(
    'nft',
    ['-f', '-'],
    `table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
  chain output {
    type filter hook output priority filter; policy accept;
    meta skuid ${uid} ct mark set ${MARK}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ct mark ${MARK} drop
  }
}
`,
  );
}

/** Ends the cut (nothing happens when there is none). */
export function restore() {
  run('nft', ['-f', '-'], `table inet ${TABLE}\ndelete table inet ${TABLE}\n`);
}
