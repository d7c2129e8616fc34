// The viewer in a real browser: Debian's Chromium driven by playwright-core. Opens the
// list, clicks into the crashed trace of a real child process, checks the waterfall (bars,
// the red crash with its reason and estimated end, events and log records), that a span named like an
// HTML injection is shown as text and ran nothing, and how long 5,000 spans take to render.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { BEHIND_SCHEMA_URLS, HOSTILE_NAME, LAST_LINE, SCOPE_ATTRIBUTES, seedBigTrace, seedErrorTrace, seedInFlightTrace, seedScopedLogs, seedServiceBehindGateway, seedShopCrash, seedSmallTraces, startViewer } from './viewerFixture.js';
import type { RunningViewer } from './viewerFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BIG_TRACE_SPANS = 5000;
/** Where the screenshot goes; docs/viewer-crash.png is a copy of one. */
const SCREENSHOT = join(tmpdir(), 'otel-blackbox-viewer-crash.png');

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
let shop: { traceId: string; hostileSpanId: string };
let bigTraceId: string;
let inFlightTraceId: string;
let behind: Awaited<ReturnType<typeof seedServiceBehindGateway>>;
let viewer: RunningViewer;
let profile: string;
let browser: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
/** What the functions evaluated in the page use (the test's own compilation has no DOM types). */
interface InPage {
  getComputedStyle(node: unknown): { paddingLeft: string; backgroundColor: string; color: string };
}

beforeAll(async () => {
  schema = await db.freshSchema('viewer_browser');
  await seedSmallTraces(db.url, schema, 5);
  shop = await seedShopCrash(db.url, schema, tempDir());
  inFlightTraceId = await seedInFlightTrace(db.url, schema);
  behind = await seedServiceBehindGateway(db.url, schema);
  bigTraceId = await seedBigTrace(db.url, schema, BIG_TRACE_SPANS);
  viewer = await startViewer(['--database', db.url, '--schema', schema]);
  profile = mkdtempSync(join(tmpdir(), 'otel-blackbox-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await viewer?.stop();
  await db.close();
});

describe('the viewer in Chromium', () => {
  test('from the crash list into the crashed trace: bars, red crash, reason, estimated end, events, log lines', async () => {
    await page.goto(viewer.url);
    const crashRows = page.locator('#crashes tr.crash-row');
    await expect.poll(() => crashRows.count()).toBe(3);
    await expect.poll(() => page.locator('#crashes').textContent()).toContain('TypeError: card declined: payment gateway timed out');
    await expect.poll(() => page.locator('#traces tr.trace-row').count()).toBe(5 + 3 + 1 + 1 + 1 + 1);

    await page.locator('#crashes tr.crash-row a', { hasText: 'charge card' }).first().click();
    await page.waitForURL(`**/traces/${shop.traceId}*`);
    await page.waitForSelector('main[data-ready="true"]');

    const rows = page.locator('.span-row');
    expect(await rows.count()).toBe(4);
    // Nested by parent: the root first, its children indented below it.
    const names = await page.locator('.span-row .name').allTextContents();
    expect(names[0]).toBe('POST /checkout');
    expect(names).toEqual(expect.arrayContaining(['load cart', 'charge card', HOSTILE_NAME]));
    expect(names.indexOf(HOSTILE_NAME)).toBe(names.indexOf('charge card') + 1);
    const indent = (name: string) => page.locator('.span-row .label', { hasText: name }).first().evaluate((node) => parseFloat((globalThis as unknown as InPage).getComputedStyle(node).paddingLeft));
    expect(await indent('charge card')).toBeGreaterThan(await indent('POST /checkout'));
    expect(await indent(HOSTILE_NAME)).toBeGreaterThan(await indent('charge card'));

    // One bar per span on the shared axis; the crashed ones red with an estimated end.
    expect(await page.locator('.span-row .bar').count()).toBe(4);
    const crashedBars = page.locator('.bar.crashed');
    expect(await crashedBars.count()).toBe(3);
    expect(await crashedBars.first().evaluate((node) => (globalThis as unknown as InPage).getComputedStyle(node).backgroundColor)).toBe('rgb(198, 40, 40)');
    expect(await page.locator('.estimate').count()).toBe(3);
    expect(await page.locator('.span-row.state-ended .bar').evaluate((node) => (globalThis as unknown as InPage).getComputedStyle(node).backgroundColor)).not.toBe('rgb(198, 40, 40)');
    await expect.poll(() => page.locator('.span-row.state-crashed .reason').first().textContent()).toContain('card declined');

    // The span clicked in the list is selected, with its reason in full.
    expect(await page.locator('.span-row.selected .name').textContent()).toBe('charge card');
    expect(await page.locator('#crash-reason').textContent()).toContain('TypeError: card declined: payment gateway timed out');

    // Events of a span that ended before the crash.
    await page.locator('.span-row', { hasText: 'load cart' }).click();
    await page.waitForSelector('#logs[data-loaded="true"]');
    const logLines = await page.locator('#logs .log').allTextContents();
    expect(logLines).toHaveLength(2);
    expect(logLines[0]).toContain('cart loaded');
    expect(logLines[0]).toContain('59.90 EUR');
    expect(logLines[1]).toContain('coupon rejected');

    // What the crashed span logged last, journaled in the child and stored with its crash record.
    await page.locator('.span-row', { hasText: 'charge card' }).click();
    await page.waitForSelector('#logs[data-loaded="true"]');
    const records = page.locator('#logs .log.record');
    expect(await records.count()).toBe(2);
    expect(await records.locator('.severity').allTextContents()).toEqual(['INFO', 'WARN']);
    expect(await records.nth(0).textContent()).toContain('charging card ending 4242');
    expect(await records.nth(1).textContent()).toContain('payment gateway slow: retrying');
    expect(await records.nth(1).textContent()).toContain('"attempt":2');
    // Through which logger: the shop's getLogger('shop-logs', '1.0.0').
    expect(await records.locator('.logger').allTextContents()).toEqual([' [shop-logs 1.0.0]', ' [shop-logs 1.0.0]']);
    // And what its process logged last: its own two lines, then one outside any span.
    const processLines = page.locator('#process-logs .log');
    expect(await processLines.count()).toBe(3);
    expect(await processLines.locator('.where').allTextContents()).toEqual([' (in this span)', ' (in this span)', ' (outside any recorded span)']);
    expect(await processLines.nth(2).textContent()).toContain(LAST_LINE);
    expect(await processLines.nth(2).locator('.severity').textContent()).toBe('ERROR');
    // From another crash record of the process, its lines in 'charge card' link there.
    await page.locator('.span-row', { hasText: 'POST /checkout' }).click();
    await expect.poll(() => page.locator('#process-logs a.where').count()).toBe(2);
    expect(await page.locator('#process-logs a.where').first().getAttribute('href')).toMatch(new RegExp(`^/traces/${shop.traceId}#span=[0-9a-f]{16}$`));
    await page.locator('.span-row', { hasText: 'charge card' }).click();
    await expect.poll(() => page.locator('#process-logs .log').count()).toBe(3);
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    console.log(`viewer screenshot: ${SCREENSHOT}`);
    expect(pageErrors).toEqual([]);
  });

  test('a span named like an HTML injection is shown as text and runs nothing', async () => {
    // Without a span in the URL, the deepest crashed span (where it stopped) is selected.
    await page.goto(`${viewer.url}traces/${shop.traceId}`);
    await page.waitForSelector('main[data-ready="true"]');
    await page.waitForSelector('#logs[data-loaded="true"]');
    expect(page.url()).toContain(`#span=${shop.hostileSpanId}`);
    expect(await page.locator('.details h3').textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('.span-row .name', { hasText: 'onerror' }).textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('.details').textContent()).toContain(`note${HOSTILE_NAME}`);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    // Also on the list page, where the name appears in a crash row.
    await page.goto(viewer.url);
    await expect.poll(() => page.locator('#crashes tr.crash-row').count()).toBe(3);
    expect(await page.locator('#crashes a', { hasText: 'onerror' }).first().textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  });

  test("a span in flight ('started') is drawn open-ended to the end of the axis", async () => {
    await page.goto(`${viewer.url}traces/${inFlightTraceId}`);
    await page.waitForSelector('main[data-ready="true"]');
    const open = page.locator('.span-row.state-started');
    expect(await open.locator('.name').textContent()).toBe('GET /report');
    expect(await open.textContent()).toContain('in flight');
    const bar = await open.locator('.bar.started').boundingBox();
    const track = await open.locator('.track').boundingBox();
    const child = await page.locator('.span-row.state-ended .bar').boundingBox();
    // Open-ended: from its start to the right edge of the axis, past the child that ended.
    expect(Math.round(bar!.x + bar!.width)).toBe(Math.round(track!.x + track!.width));
    expect(bar!.x + bar!.width).toBeGreaterThanOrEqual(child!.x + child!.width - 1);
    expect(await page.locator('.details').textContent()).toContain('not ended yet (in flight)');
    // In flight until now, as far as anyone knows: not "duration 1 ns" when every span is open.
    expect(await page.locator('.trace-head').textContent()).toMatch(/in flight for [\d.]+ (ms|s|min) so far/);
  });

  test('what a review found drawn wrong: reversed text, a crash bar past the track, an unreadable label, severities without text, bodies', async () => {
    // Rows as the exporter stores them: a root that ended, and under it a crash record whose
    // estimated end is its start, at the end of the axis (where its process stopped), named
    // with a right-to-left override; two log records, one without a body and one with a
    // JSON null body, neither with a severity text.
    const traceId = 'e'.repeat(32);
    const t0 = 1_764_000_000_000_000_000n;
    const insertSpan = `INSERT INTO "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, crash_reason, end_time_estimated)
      VALUES ($1, $2, $3, $4, 'INTERNAL', $5, now(), $6, now(), $7, $8, $9)`;
    await db.query(insertSpan, [traceId, '5555555555555555', null, 'worker loop', 'ended', t0, t0 + 1_000_000n, null, false]);
    await db.query(insertSpan, [traceId, '6666666666666666', '5555555555555555', '\u202eevil-name', 'crashed', t0 + 1_000_000n, t0 + 1_000_000n, 'heartbeat at 2026-12-05T10:40:01.974Z\n\u2067after', true]);
    const insertLog = `INSERT INTO "${schema}".logs (kind, trace_id, span_id, time, time_unix_nano, writer_id, sequence, severity_number, body)
      VALUES ('log', $1, '6666666666666666', now(), $2, 'w-viewer-review', $3, $4, $5)`;
    await db.query(insertLog, [traceId, t0 + 500_000n, 1, 17, null]);
    await db.query(insertLog, [traceId, t0 + 600_000n, 2, 10, 'null']);

    await page.goto(`${viewer.url}traces/${traceId}`);
    await page.waitForSelector('main[data-ready="true"]');
    await page.waitForSelector('#logs[data-loaded="true"]');
    // The override is shown as an escape, and the reason beside it reads forwards.
    const crashed = page.locator('.span-row.state-crashed');
    expect(await crashed.locator('.name').textContent()).toBe('\\u202eevil-name');
    expect(await crashed.locator('.reason').textContent()).toBe('heartbeat at 2026-12-05T10:40:01.974Z');
    // So in the details, once the span's own texts have replaced the trace's cut ones: its
    // title, status and crash reason were shown raw there (a review).
    const details = page.locator('.details');
    expect(await details.locator('h3').textContent()).toBe('\\u202eevil-name');
    expect(await details.locator('#crash-reason').textContent()).toBe('heartbeat at 2026-12-05T10:40:01.974Z\n\\u2067after');
    expect(await details.textContent()).not.toMatch(/[\u202e\u2067]/);
    // Its bar and its "est. end" label are inside the track, and the label is not white.
    const bar = (await crashed.locator('.bar').boundingBox())!;
    const track = (await crashed.locator('.track').boundingBox())!;
    expect(bar.x + bar.width).toBeLessThanOrEqual(track.x + track.width + 0.5);
    expect(bar.x).toBeGreaterThan(track.x + track.width / 2);
    expect(await crashed.locator('.estimate span').evaluate((node) => (globalThis as unknown as InPage).getComputedStyle(node).color)).not.toBe('rgb(255, 255, 255)');
    // Severities by number, and a missing body told from a null one.
    const records = page.locator('#logs .log.record');
    expect(await records.locator('.severity').allTextContents()).toEqual(['ERROR', 'INFO2']);
    expect(await records.locator('.text').allTextContents()).toEqual(['(no body)', 'null']);
    expect(pageErrors).toEqual([]);
  });

  test('what a second review found: a long name six windows wide, attributes past 1 MiB shown as "none", a long reason cut in the details', async () => {
    // A crash record named with 5,000 characters and no space, whose attributes are past
    // 1 MiB of JSON (they come as the first part of their text) and whose process logged.
    const traceId = 'f1'.repeat(16);
    const t0 = BigInt(Date.now() + 3_600_000) * 1_000_000n; // the latest crash of the schema
    const reason = `uncaught Error: the last step failed\n${'    at step (/app/job.js:1:1)\n'.repeat(40)}`;
    await db.query(
      `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano,
                                      status_code, status_message, crash_reason, end_time_estimated, attributes)
       VALUES ($1, '7777777777777777', $2, 'INTERNAL', 'crashed', now(), $3, now(), $3, 'ERROR', $4, $4, true,
               jsonb_build_object('otel_blackbox.writer.id', 'w-second-review', 'payload', repeat('p', 1100000)))`,
      [traceId, `job-${'n'.repeat(5000)}`, t0, reason],
    );
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, severity_text, body)
       VALUES ('log', 'w-second-review', 1, NULL, NULL, now(), $1, 'ERROR', '"queue connection lost"')`,
      [t0],
    );
    await page.goto(viewer.url);
    await page.waitForSelector('#crashes tr.crash-row');
    const widths = await page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return { scroll: root.scrollWidth, client: root.clientWidth };
    });
    expect(widths.scroll).toBeLessThanOrEqual(widths.client + 1);

    await page.goto(`${viewer.url}traces/${traceId}`);
    await page.waitForSelector('#logs[data-loaded="true"]');
    // The details: the whole name and reason (the waterfall's rows have theirs cut), the
    // attributes as their text, and the process's last line found by its writer all the same.
    expect(await page.locator('.details h3').textContent()).toBe(`job-${'n'.repeat(5000)}`);
    expect(await page.locator('#crash-reason').textContent()).toBe(reason);
    const attributes = await page.locator('#attributes').textContent();
    expect(attributes).toContain('too large to send whole');
    expect(attributes).toContain('"payload": "ppp');
    expect(await page.locator('#process-logs').textContent()).toContain('queue connection lost');
    expect(pageErrors).toEqual([]);
  });

  test('a service behind a gateway: listed by its first span, whose parent is said to be in another process, with the schema URLs', async () => {
    await page.goto(viewer.url);
    await page.locator('#traces tr.trace-row a', { hasText: 'GET /orders/:id' }).click();
    await page.waitForURL(`**/traces/${behind.traceId}*`);
    await page.waitForSelector('main[data-ready="true"]');
    // Its parent is not stored: the span is drawn as a root, its child below it.
    expect(await page.locator('.span-row .name').allTextContents()).toEqual(['GET /orders/:id', 'SELECT orders']);
    await page.locator('.span-row', { hasText: 'GET /orders/:id' }).click();
    await expect.poll(() => page.locator('.details').textContent()).toContain(`${behind.parentSpanId} (in another process)`);
    await expect.poll(() => page.locator('#scope-schema-url').textContent()).toBe(`scope schema: ${BEHIND_SCHEMA_URLS.scope}`);
    expect(await page.locator('#resource-schema-url').textContent()).toBe(`resource schema: ${BEHIND_SCHEMA_URLS.resource}`);
    await page.locator('.span-row', { hasText: 'SELECT orders' }).click();
    await expect.poll(() => page.locator('.details h3').textContent()).toBe('SELECT orders');
    expect(await page.locator('.details').textContent()).not.toContain('in another process');
    expect(pageErrors).toEqual([]);
  });

  test(`a trace of ${BIG_TRACE_SPANS} spans renders and stays usable`, async () => {
    const opened = Date.now();
    await page.goto(`${viewer.url}traces/${bigTraceId}`);
    await page.waitForSelector('main[data-ready="true"]', { timeout: 60_000 });
    const loadedMs = Date.now() - opened;
    const main = page.locator('main');
    const fetchMs = await main.getAttribute('data-fetch-ms');
    const renderMs = await main.getAttribute('data-render-ms');
    console.log(`viewer: ${BIG_TRACE_SPANS}-span trace: API ${fetchMs} ms, DOM render + layout ${renderMs} ms, navigation to ready ${loadedMs} ms`);
    expect(await page.locator('.span-row').count()).toBe(BIG_TRACE_SPANS);
    // Usable: a span far down the list can be selected and shows its details.
    const last = page.locator('.span-row').nth(BIG_TRACE_SPANS - 1);
    await last.scrollIntoViewIfNeeded();
    await last.click();
    await expect.poll(() => page.locator('.span-row.selected').count()).toBe(1);
    expect(await page.locator('.details h3').textContent()).toBe(await last.locator('.name').textContent());
    expect(pageErrors).toEqual([]);
  });

  // In a trace of thousands of spans, a span was found by its name only by scrolling.
  test(`finds spans by name in the ${BIG_TRACE_SPANS}-span trace: marked, counted, and gone through with Enter and Shift+Enter`, async () => {
    await page.goto(`${viewer.url}traces/${bigTraceId}`);
    await page.waitForSelector('main[data-ready="true"]', { timeout: 60_000 });
    // From the tree, '/' goes to the find box.
    await page.locator('.span-row.selected').focus();
    await page.keyboard.press('/');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('find-span');
    await page.keyboard.type('ITEM 123');
    const expected = ['item 123', ...Array.from({ length: 10 }, (_, k) => `item 123${k}`)];
    await expect.poll(() => page.locator('#find-count').textContent()).toBe(`${expected.length} spans match`);
    expect((await page.locator('.span-row.match .name').allTextContents()).sort()).toEqual([...expected].sort());
    const selectedName = () => page.locator('.span-row.selected .name').textContent();
    const visited: string[] = [];
    for (let k = 0; k < expected.length; k++) {
      await page.keyboard.press('Enter');
      visited.push((await selectedName())!);
      expect(await page.locator('#find-count').textContent()).toBe(`${k + 1} of ${expected.length}`);
    }
    expect([...visited].sort()).toEqual([...expected].sort());
    // Round the trace, both ways; the focus stays in the box.
    await page.keyboard.press('Enter');
    expect(await selectedName()).toBe(visited[0]);
    await page.keyboard.press('Shift+Enter');
    expect(await selectedName()).toBe(visited[expected.length - 1]);
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('find-span');
    expect(await page.locator('.details h3').textContent()).toBe(visited[expected.length - 1]);
    await page.fill('#find-span', 'no such span anywhere');
    await expect.poll(() => page.locator('#find-count').textContent()).toBe('no span matches');
    expect(await page.locator('.span-row.match').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  // An accessibility review (axe-core and a keyboard in Chromium): no span could be reached
  // from the keyboard, a status ERROR was an orange bar only, the bars had no width below
  // ~750 px (200% zoom), and text fell under 4.5:1 contrast.
  test('usable without a mouse or colour vision, in a narrow window, with text that contrasts', async () => {
    const failed = await seedErrorTrace(db.url, schema);
    await page.goto(`${viewer.url}traces/${failed.traceId}`);
    await page.waitForSelector('main[data-ready="true"]');
    // Where it failed is selected, and said in words.
    expect(await page.locator('.span-row.selected').getAttribute('data-span-id')).toBe(failed.spanIds['charge card']);
    expect(await page.locator('#state-counts').textContent()).toContain('1 with status ERROR');
    const failedRow = page.locator(`.span-row[data-span-id="${failed.spanIds['charge card']}"]`);
    expect(await failedRow.locator('.status-error').textContent()).toBe('error');
    expect(await failedRow.getAttribute('aria-label')).toMatch(/^charge card, ended, status ERROR, /);
    expect(await failedRow.getAttribute('aria-level')).toBe('3');
    expect(await page.locator('.rows[role="tree"] > [role="treeitem"]').count()).toBe(4);

    // The keyboard reaches the selected row with Tab, and moves through the tree.
    expect(await page.locator('.span-row[tabindex="0"]').count()).toBe(1);
    const focusedSpan = () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(name: string): string | null } } }).document.activeElement.getAttribute('data-span-id'));
    for (let tabs = 0; tabs < 30 && (await focusedSpan()) === null; tabs++) await page.keyboard.press('Tab');
    expect(await focusedSpan()).toBe(failed.spanIds['charge card']);
    await page.keyboard.press('Home');
    expect(await focusedSpan()).toBe(failed.spanIds['checkout']);
    await page.keyboard.press('ArrowDown');
    const second = page.locator('.span-row').nth(1);
    expect(await focusedSpan()).toBe(await second.getAttribute('data-span-id'));
    expect(await second.getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => page.locator('.details h3').textContent()).toBe(await second.locator('.name').textContent());
    await page.keyboard.press('End');
    expect(await focusedSpan()).toBe(await page.locator('.span-row').nth(3).getAttribute('data-span-id'));

    // A link to a span the trace does not have is said.
    await page.goto(`${viewer.url}traces/${failed.traceId}#span=00000000000000aa`);
    await page.waitForSelector('main[data-ready="true"]');
    expect(await page.locator('#span-not-found[role="alert"]').textContent()).toContain('00000000000000aa');

    // Text against its background: the ended badge, the axis ticks (WCAG 1.4.3, 4.5:1).
    await page.goto(viewer.url);
    await page.waitForSelector('#traces[data-loaded="true"]');
    expect(await contrast('.state.ended', 'own')).toBeGreaterThanOrEqual(4.5);
    expect(await page.locator('h1').count()).toBe(1);

    // A phone-wide window (or 200% zoom): the bars keep a width, and nothing scrolls sideways.
    await page.setViewportSize({ width: 375, height: 700 });
    try {
      await page.goto(`${viewer.url}traces/${failed.traceId}`);
      await page.waitForSelector('main[data-ready="true"]');
      const widths = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelector(selector: string): { clientWidth: number; scrollWidth: number } }; innerWidth: number }).document;
        return { track: doc.querySelector('.span-row .track').clientWidth, page: doc.querySelector('html').scrollWidth, window: (globalThis as unknown as { innerWidth: number }).innerWidth };
      });
      expect(await contrast('.axis .tick', 'rgb(245, 245, 245)')).toBeGreaterThanOrEqual(4.5);
      expect(widths.track).toBeGreaterThan(100);
      expect(widths.page).toBeLessThanOrEqual(widths.window);
    } finally {
      await page.setViewportSize({ width: 1400, height: 760 });
    }
    expect(pageErrors).toEqual([]);
  });
  // Mid-incident the list could not say which traces failed: a trace's status ERROR was
  // seen only inside it, and no filter took the list to them (an accessibility review).
  test('the list says in words which traces hold an ERROR span, and the status filter shows only those', async () => {
    const failed = await seedErrorTrace(db.url, schema);
    await page.goto(viewer.url);
    await page.waitForSelector('#traces[data-loaded="true"]');
    const failedRow = page.locator('#traces tr.trace-row', { has: page.locator(`a[href*="${failed.traceId}"]`) });
    expect(await failedRow.locator('.status-error').textContent()).toBe('1 error');
    await page.selectOption('select[name="status"]', 'error');
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(/status=error/);
    await page.waitForSelector('#traces[data-loaded="true"]');
    expect(await page.locator('select[name="status"]').inputValue()).toBe('error');
    const rows = page.locator('#traces tr.trace-row');
    const listed = await rows.count();
    const withError = await db.count(
      `SELECT count(*) FROM "${schema}".traces t WHERE EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = t.trace_id AND s.status_code = 'ERROR')`,
    );
    expect(withError).toBeGreaterThan(1);
    expect(listed).toBe(Math.min(withError, 50));
    expect(await rows.locator('.status-error').count()).toBe(listed);
    expect(await page.locator(`#traces a[href*="${failed.traceId}"]`).count()).toBe(1);
  });
  // Lines outside any span (a start-up failure, a pool exhausted between requests) had no
  // page: a span's details list its own lines only (an accessibility review).
  test('the list shows the log lines no span shows, with their severity and where they were logged', async () => {
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, trace_flags, time, time_unix_nano, service_name, severity_number, body)
       VALUES ('log', 'w-browser-outside', 1, NULL, NULL, NULL, now(), (extract(epoch FROM now()) * 1e9)::bigint, 'api', 17, '"no database at start-up: ECONNREFUSED"'),
              ('log', 'w-browser-outside', 2, md5('not sampled'), '00000000000000d1', 0, now(), (extract(epoch FROM now()) * 1e9)::bigint + 1, 'api', 9, '"retrying in a span not sampled"')`,
    );
    await page.goto(viewer.url);
    await page.waitForSelector('#logs[data-loaded="true"]');
    const outside = page.locator('#logs tr.log-row', { hasText: 'no database at start-up' });
    // No logger: the rows were written without a scope.
    expect(await outside.locator('td').allTextContents()).toEqual([expect.any(String), 'api', 'ERROR', '–', 'no database at start-up: ECONNREFUSED', 'outside any span']);
    const unsampled = page.locator('#logs tr.log-row', { hasText: 'retrying in a span not sampled' });
    expect(await unsampled.locator('td').nth(5).textContent()).toBe('in span 00000000000000d1, not sampled');
    // ERROR and above, chosen in the filters: the INFO line goes, the ERROR line stays.
    await page.selectOption('select[name="severity"]', 'error');
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(/severity=error/);
    await page.waitForSelector('#logs[data-loaded="true"]');
    expect(await page.locator('#logs tr.log-row', { hasText: 'no database at start-up' }).count()).toBe(1);
    expect(await page.locator('#logs tr.log-row', { hasText: 'retrying in a span not sampled' }).count()).toBe(0);
    expect(await page.locator('select[name="severity"]').inputValue()).toBe('error');
    // A list of traces in one state has no such lines to show.
    await page.goto(`${viewer.url}?state=crashed`);
    await page.waitForSelector('#traces[data-loaded="true"]');
    expect(await page.locator('#logs tr').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  // Back from a trace to a long list gave its first 50 rows at the top: the place in the
  // list, pages and scroll, was lost mid-incident (an accessibility review).
  test('Back from a trace brings the list back with the pages it had loaded, where it was scrolled', async () => {
    await seedSmallTraces(db.url, schema, 60);
    await page.goto(viewer.url);
    await page.waitForSelector('#traces[data-loaded="true"]');
    const traceRows = page.locator('#traces tr.trace-row');
    expect(await traceRows.count()).toBe(50);
    await page.locator('#traces button.more').click();
    await expect.poll(() => traceRows.count()).toBeGreaterThan(50);
    const rowsLoaded = await traceRows.count();
    const last = traceRows.last().locator('a');
    await last.scrollIntoViewIfNeeded();
    const scrolled = await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY);
    expect(scrolled).toBeGreaterThan(0);
    await last.click();
    await page.waitForSelector('main[data-ready="true"]');
    await page.goBack();
    await page.waitForSelector('#traces[data-loaded="true"]');
    expect(await traceRows.count()).toBe(rowsLoaded);
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY)).toBe(scrolled);
    expect(pageErrors).toEqual([]);
  });

  // A logger's scope attributes (getLogger(name, version, { attributes }), migration 8)
  // were stored but shown nowhere: beside the logger now, as text, being user data.
  test("a log record's logger is shown with its scope attributes, as text, in a span's lines and in the list of lines outside spans", async () => {
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      return dialog.dismiss();
    });
    const { traceId, spanId } = await seedScopedLogs(db.url, schema, tempDir());
    // In jsonb's order of keys (shorter first), as a span's attributes are listed.
    const scope = `note=${SCOPE_ATTRIBUTES.note}, tenant=acme, deployment.ring=2`;
    await page.goto(`${viewer.url}traces/${traceId}#span=${spanId}`);
    await page.waitForSelector('main[data-ready="true"]');
    await page.waitForSelector('#logs[data-loaded="true"]');
    const records = page.locator('#logs .log.record');
    expect(await records.locator('.text').allTextContents()).toEqual(['invoice settled', 'plain line in the span']);
    expect(await records.locator('.logger').allTextContents()).toEqual([` [billing-audit 3.1.0 ${scope}]`, ' [billing-plain 1.0.0]']);
    expect(await records.locator('.logger .scope-attributes').allTextContents()).toEqual([` ${scope}`]);

    await page.goto(viewer.url);
    await page.waitForSelector('#logs[data-loaded="true"]');
    const audit = page.locator('#logs tr.log-row', { hasText: 'audit line outside any span' });
    expect(await audit.locator('td.logger').textContent()).toBe(`billing-audit 3.1.0 ${scope}`);
    expect(await audit.locator('td.logger').getAttribute('title')).toBe(`billing-audit 3.1.0 ${scope}`);
    expect(await audit.locator('td.logger .scope-attributes').textContent()).toBe(` ${scope}`);
    const plain = page.locator('#logs tr.log-row', { hasText: 'plain line outside any span' });
    expect(await plain.locator('td.logger').textContent()).toBe('billing-plain 1.0.0');
    // The value written as HTML made no element and ran nothing.
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

/** The contrast ratio of the first `selector`'s text against `background` ('own': its own background colour). */
function contrast(selector: string, background: string): Promise<number> {
  return page.evaluate(
    ([selector, background]) => {
      const doc = (globalThis as unknown as { document: { querySelector(selector: string): unknown } }).document;
      const view = globalThis as unknown as InPage;
      const luminance = (rgb: string) => {
        const [r, g, b] = rgb.match(/\d+/g)!.slice(0, 3).map((c) => {
          const x = Number(c) / 255;
          return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const node = doc.querySelector(selector!);
      const fg = luminance(view.getComputedStyle(node).color);
      const bg = luminance(background === 'own' ? view.getComputedStyle(node).backgroundColor : background!);
      return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    },
    [selector, background],
  );
}
