// Starting Chromium for the tests, and the `test` every spec uses: Playwright's own, except that its
// `browser` is started by `launchChromium` too.
//
// Debian's Chromium has died during its own start (SIGSEGV, before it had opened a page) once in a CI run,
// failing a test that had not yet reached the app. Such a crash says nothing about the app, so a launch
// that fails is tried again, a bounded number of times, and says so on stderr. Anything after the launch
// (a page, a call, a crash of a renderer) is the test's business and is never retried.
import { test as base, Browser, BrowserType, LaunchOptions } from '@playwright/test';
import config from '../playwright.config';

const LAUNCH_ATTEMPTS = 3;

/** The configured launch options (playwright.config.ts). */
export function configuredLaunchOptions(): LaunchOptions {
  return config.use!.launchOptions!;
}

/** The configured launch options with `change` applied to their command-line arguments. */
export function launchOptionsWith(change: (args: string[]) => string[]): LaunchOptions {
  const options = configuredLaunchOptions();
  return { ...options, args: change([...(options.args ?? [])]) };
}

/** `type.launch(options)`, started again if Chromium dies while starting. */
export async function launchChromium(type: BrowserType, options: LaunchOptions = configuredLaunchOptions()): Promise<Browser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await type.launch(options);
    } catch (e) {
      if (attempt >= LAUNCH_ATTEMPTS) throw e;
      const reason = String((e as Error).message ?? e).split('\n')[0];
      console.warn(`Chromium did not start (attempt ${attempt} of ${LAUNCH_ATTEMPTS}): ${reason}; starting it again`);
    }
  }
}

export const test = base.extend<{}, { browser: Browser }>({
  browser: [
    async ({ playwright }, use) => {
      const browser = await launchChromium(playwright.chromium);
      await use(browser);
      await browser.close();
    },
    { scope: 'worker', timeout: 0 },
  ],
});
