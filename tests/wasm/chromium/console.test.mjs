// The browser SQL console (examples/browser) in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core): type a query, click Run,
// read the rendered rows. A screenshot is kept in target/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { handle } from '../../../examples/browser/serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const env = process.env;
let server;
let profile;
let context;
let page;
let origin;
const consoleLines = [];

before(async () => {
  server = createServer(handle);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  profile = mkdtempSync(join(tmpdir(), 'edgepg-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
    viewport: { width: 1000, height: 700 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const q = new URLSearchParams({ proxy: env.EDGEPG_TEST_PROXY, url: env.EDGEPG_TEST_URL });
  await page.goto(`${origin}/?${q}`);
  await page.waitForSelector('#run:not([disabled])', { timeout: 30_000 });
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the console runs a query through the proxy and shows the rows', async () => {
  await page.fill('#sql', "SELECT n, n * n AS square, 'row ' || n AS label, NULL::text AS nothing, (n % 2 = 0) AS even\nFROM generate_series(1, 4) AS n");
  await page.click('#run');
  await page.waitForFunction(() => /SELECT 4/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
  const headers = await page.$$eval('#results th', (ths) => ths.map((th) => th.firstChild.textContent));
  assert.deepEqual(headers, ['n', 'square', 'label', 'nothing', 'even']);
  const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rows, [1, 2, 3, 4].map((n) => [String(n), String(n * n), `row ${n}`, 'NULL', String(n % 2 === 0)]));
  const dir = env.EDGEPG_ARTIFACTS ?? join(root, 'target/artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'console.png'), fullPage: true });
  assert.ok(statSync(join(dir, 'console.png')).size > 1000);
});

test('errors are shown with their class and SQLSTATE, and the next query works', async () => {
  await page.fill('#sql', 'SELECT * FROM no_such_table');
  await page.click('#run');
  await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
  const text = await page.textContent('#error');
  assert.match(text, /^ProgrammingError \[42P01\]: relation "no_such_table" does not exist/);
  await page.fill('#sql', "SELECT '\\x00ff'::bytea AS b, '{\"k\": [1]}'::jsonb AS j, 2::int8 AS big, '2020-01-01 00:00:00+00'::timestamptz AS t");
  await page.click('#run');
  await page.waitForFunction(() => /SELECT 1/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
  const cells = await page.$$eval('#results tbody td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells, ['\\x00ff', '{"k":[1]}', '2', '2020-01-01T00:00:00.000Z']);
  assert.deepEqual(consoleLines.filter((l) => /^(error|pageerror)/.test(l)), []);
});
