// Console benchmark (docs/benchmarks.md, "Console"): a real `onesec up` with 5,000 open
// incidents; page weight and time to first render of the queue in headless Chromium (median of
// RUNS loads), then the live-update rate the open page keeps up with while new incidents arrive.
//
//   ONESEC_BIN=target/release/onesec node console-tests/bench.mjs [open=5000] [live_seconds=20] [live_rate=200]

import { startOnesec, launchBrowser, signIn } from './onesec.mjs';

const OPEN = Number(process.argv[2] || 5000);
const LIVE_SECONDS = Number(process.argv[3] || 20);
const LIVE_RATE = Number(process.argv[4] || 200);
const RUNS = 5;
const HOUR = 3600 * 1000;

/** `count` forced doors, each at its own unknown door two hours apart: one incident each. */
function forcedDoors(first, count) {
  const lines = [];
  for (let i = first; i < first + count; i += 1) {
    const time = new Date(Date.UTC(2025, 0, 1) + i * 2 * HOUR).toISOString().replace('.000', '');
    lines.push(JSON.stringify({
      topic: `bench/ctl/onvif-ej/Door/State/DoorAlarm/&BENCH-D-${i}`,
      payload: { UtcTime: time, PropertyOperation: 'Changed', Source: { DoorToken: `BENCH-D-${i}` }, Data: { State: 'DoorForcedOpen' } },
    }));
  }
  return lines.join('\n');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openIncidents(onesec) {
  return (await onesec.call('GET', '/api/v1/incidents?limit=100000')).length;
}

async function waitFor(what, check, timeoutMs = 300000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function pageWeight(page, base) {
  const sizes = await page.evaluate(async (b) => {
    const size = async (p) => (await (await fetch(b + p)).arrayBuffer()).byteLength;
    const live = await fetch(`${b}/console/live`);
    const reader = live.body.getReader();
    let bytes = 0;
    let text = '';
    while (!text.includes('\n\n')) {
      const { value } = await reader.read();
      bytes += value.byteLength;
      text += new TextDecoder().decode(value);
    }
    reader.cancel();
    return { html: await size('/console'), js: await size('/console/assets/console.js'), css: await size('/console/assets/console.css'), snapshot: bytes };
  }, base);
  return sizes;
}

async function loadOnce(page, base) {
  const started = Date.now();
  await page.goto(`${base}/console`, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.consoleMetrics?.firstLiveRenderMs != null, null, { timeout: 120000 });
  const wall = Date.now() - started;
  return page.evaluate((w) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      ttfb: nav.responseStart - nav.requestStart,
      fcp: fcp ? fcp.startTime : null,
      domContentLoaded: nav.domContentLoadedEventEnd,
      liveRender: window.consoleMetrics.firstLiveRenderMs,
      snapshotRows: window.consoleMetrics.snapshotRows,
      rendered: Number(document.getElementById('queue').dataset.rendered),
      wall: w,
    };
  }, wall);
}

async function main() {
  const onesec = await startOnesec();
  const browser = await launchBrowser();
  try {
    for (let i = 0; i < OPEN; i += 1000) await onesec.ingest('onvif-ej', forcedDoors(i, Math.min(1000, OPEN - i)));
    await waitFor(`${OPEN} open incidents`, async () => (await openIncidents(onesec)) >= OPEN);
    const page = await signIn(browser, onesec.base, 'admin');
    const weight = await pageWeight(page, onesec.base);
    const loads = [];
    for (let run = 0; run < RUNS; run += 1) loads.push(await loadOnce(page, onesec.base));
    console.log(JSON.stringify({ open: OPEN, weight, loads }, null, 1));
    const pick = (k) => median(loads.map((l) => l[k])).toFixed(0);
    console.log(`queue with ${loads[0].snapshotRows} open: html ${weight.html} B, js ${weight.js} B, css ${weight.css} B, snapshot ${weight.snapshot} B; median of ${RUNS}: ttfb ${pick('ttfb')} ms, first contentful paint ${pick('fcp')} ms, live queue rendered ${pick('liveRender')} ms`);

    // Live: LIVE_RATE new incidents a second for LIVE_SECONDS, in 4 batches a second.
    await page.evaluate(() => { Object.assign(window.consoleMetrics, { changes: 0, upserts: 0, renders: 0 }); });
    const before = await page.evaluate(() => window.consoleMetrics.snapshotRows);
    const total = LIVE_RATE * LIVE_SECONDS;
    const started = Date.now();
    for (let sent = 0, n = OPEN; sent < total; sent += LIVE_RATE / 4, n += LIVE_RATE / 4) {
      const due = started + (sent / LIVE_RATE) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      await onesec.ingest('onvif-ej', forcedDoors(n, LIVE_RATE / 4));
    }
    const sentAt = Date.now();
    await page.waitForFunction((n) => Number(document.getElementById('queue-count').textContent) >= n, before + total, { timeout: 300000 });
    const caughtUp = Date.now();
    const m = await page.evaluate(() => ({ ...window.consoleMetrics, shown: document.getElementById('queue-count').textContent }));
    console.log(JSON.stringify({ before, sent: total, seconds: (sentAt - started) / 1000, lag_ms: caughtUp - sentAt, metrics: m }));
    console.log(`live: ${total} new incidents in ${((sentAt - started) / 1000).toFixed(1)} s (${(total / ((sentAt - started) / 1000)).toFixed(0)}/s); page received ${m.upserts} upserts in ${m.changes} change events, ${m.renders} renders, queue count ${m.shown}; caught up ${caughtUp - sentAt} ms after the last batch`);
  } finally {
    await browser.close();
    await onesec.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
