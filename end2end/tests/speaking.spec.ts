// The speaking highlight: whoever speaks gets a ring on their tile at the others', and in the speaker
// layout, while nobody is pinned, is the one shown large. Chromium's fake microphone only beeps briefly,
// which openvidu-browser's detection does not count as speaking, so the speaker's browser captures a WAV
// file of a steady voice-loud tone instead (--use-file-for-fake-audio-capture).
import { expect, Browser, Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, tileOf } from './helpers';
import { launchChromium, launchOptionsWith, test } from './browser';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 27000);

test.beforeAll(async () => {
  await server.start();
});
let speakingBrowser: Browser | undefined;
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await speakingBrowser?.close();
  await server.stop();
});

/** A 16-bit mono PCM WAV file of `seconds` of a 220 Hz tone at half of full scale. */
function tone(path: string, seconds: number) {
  const rate = 48000;
  const samples = rate * seconds;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    data.writeInt16LE(Math.round(16000 * Math.sin((2 * Math.PI * 220 * i) / rate)), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat([header, data]));
}

test('the one who speaks is ringed and shown large at the others', async ({ browser, playwright }) => {
  // Three logins, a second browser and three calls' worth of media: more than one test's usual share of
  // a busy two-core machine.
  test.setTimeout(240_000);
  const wav = test.info().outputPath('voice.wav');
  tone(wav, 4);
  const options = launchOptionsWith((args) => [...args, `--use-file-for-fake-audio-capture=${wav}`]);
  speakingBrowser = await launchChromium(playwright.chromium, options);

  const call = 'Speaking';
  // C joins first, so that B, joining last, first shows C large.
  const c: Page = await loggedInPage(browser, server.url, 'moderator');
  await join(c, call, 'Cleo');
  const a: Page = await loggedInPage(speakingBrowser, server.url, 'publisher1');
  const b: Page = await loggedInPage(browser, server.url, 'publisher2');
  await join(b, call, 'Bob');
  await expectPlaying(tileOf(b, 'moderator'));
  await expect(tileOf(b, 'moderator')).toHaveClass(/featured/);
  await expect(tileOf(b, 'moderator')).toHaveAttribute('data-speaking', 'false');

  await join(a, call, 'Ada');
  await expectPlaying(tileOf(b, 'publisher1'));
  await expect(tileOf(b, 'publisher1')).toHaveAttribute('data-speaking', 'true');
  await expect(tileOf(b, 'publisher1')).toHaveClass(/speaking/);
  await expect(tileOf(b, 'publisher1')).toHaveClass(/featured/);
  await expect(tileOf(b, 'moderator')).not.toHaveClass(/featured/);
  // Beeps are not speech: C is not ringed.
  await expect(tileOf(b, 'moderator')).toHaveAttribute('data-speaking', 'false');

  // A pin wins over the speaker.
  await tileOf(b, 'moderator').getByTestId('pin').click();
  await expect(tileOf(b, 'moderator')).toHaveClass(/featured/);
  await expect(tileOf(b, 'publisher1')).toHaveAttribute('data-speaking', 'true');
  await expect(tileOf(b, 'publisher1')).not.toHaveClass(/featured/);

  for (const p of [a, b, c]) await p.getByTestId('leave').click();
});
