// Opens the cordon serve approval page in Debian's headless Chromium, checks the pending request
// is shown with its exact argv, clicks Approve, and keeps screenshots of the page before and
// after the click. It also reports each argument's box as the browser laid it out (its text and
// rectangle), so the test can check that no argument runs visually into another.
//
// usage: node approve.mjs URL_WITH_TOKEN REQUEST_ID SCREENSHOT_DIR
// Prints one JSON line: {"note": "...", "argv": "...", "args": [{text, x, y, width, height}]};
// exits non-zero on any failure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, requestId, shots] = process.argv.slice(2);
if (!url || !requestId || !shots) {
  console.error('usage: node approve.mjs URL_WITH_TOKEN REQUEST_ID SCREENSHOT_DIR');
  process.exit(64);
}

const profile = mkdtempSync(join(tmpdir(), 'cordon-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CORDON_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1200, height: 900 },
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20000);
  await page.goto(url);
  // The token left the address bar: the page answered with a cookie and a redirect.
  if (page.url().includes('token=')) throw new Error(`the token is still in the URL: ${page.url()}`);
  const section = page.locator(`section#${requestId}`);
  await section.waitFor();
  const argv = await section.locator('li.argv').first().innerText();
  const args = [];
  for (const box of await section.locator('li.argv').first().locator('bdi.arg').all()) {
    const rect = await box.boundingBox();
    args.push({ text: await box.innerText(), ...rect });
  }
  await page.screenshot({ path: join(shots, 'approve-request.png'), fullPage: true });
  await Promise.all([
    page.waitForURL(/note=/),
    page.click(`#approve-${requestId}`),
  ]);
  const note = await page.locator('#note').innerText();
  await page.screenshot({ path: join(shots, 'approve.png'), fullPage: true });
  console.log(JSON.stringify({ note, argv, args }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
