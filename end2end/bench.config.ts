// The join benchmark (scripts/bench-join.sh), not a test: the test configuration's browser, with its
// own folder of "tests" and a longer time limit.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({
  ...base,
  testDir: './bench',
  timeout: 15 * 60_000,
  reporter: [['list']],
});
