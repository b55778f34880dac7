// Starts a real `onesec up` on a free port with a fresh data folder, and the browser; shared by
// the end-to-end test and the benchmark.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'console test password';

/** The onesec binary: $ONESEC_BIN, else the debug build in $CARGO_TARGET_DIR or target/. */
export function onesecBinary() {
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
  const bin = process.env.ONESEC_BIN || path.join(target, 'debug', 'onesec');
  if (!existsSync(bin)) throw new Error(`no onesec binary at ${bin}: run console-tests/run.sh (it builds one)`);
  return bin;
}

/** A running `onesec up` with an admin signed up; `stop()` ends it and removes its data. */
export async function startOnesec() {
  const data = mkdtempSync(path.join(tmpdir(), 'onesec-console-'));
  const child = spawn(onesecBinary(), [
    'up', '--data-dir', path.join(data, 'data'), '--http', '127.0.0.1:0', '--syslog', '',
    '--directory', path.join(ROOT, 'examples', 'northwind'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`onesec did not start:\n${log}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/onesec listening http=([^\s]+)/);
      if (m) { clearTimeout(timer); resolve(`http://${m[1]}`); }
    });
    child.once('exit', (code) => reject(new Error(`onesec exited ${code}:\n${log}`)));
  });
  const setup = readFileSync(path.join(data, 'data', 'auth', 'setup-token'), 'utf8').trim();
  await call(base, 'POST', '/api/v1/auth/setup', null, { setup_token: setup, user: 'admin', password: PASSWORD });
  const { token } = await call(base, 'POST', '/api/v1/auth/login', null, { user: 'admin', password: PASSWORD });
  const onesec = {
    base,
    token,
    log: () => log,
    call: (method, p, body, bearer = token) => call(base, method, p, bearer, body),
    async user(name, role, sites = []) {
      await call(base, 'POST', '/api/v1/users', token, { name, role, sites, password: PASSWORD });
    },
    async ingest(format, text) {
      return call(base, 'POST', `/api/v1/events?format=${format}`, token, text);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
  return onesec;
}

async function call(base, method, p, bearer, body) {
  const headers = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let payload;
  if (typeof body === 'string') payload = body;
  else if (body !== undefined && body !== null) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(base + p, { method, headers, body: payload });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${p}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Headless Debian chromium (root needs --no-sandbox). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** Signs `user` in through the console's form; returns the page on the queue. */
export async function signIn(browser, base, user) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  await page.waitForURL(/\/console\/login$/);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console$/);
  return page;
}

export function demoFile(name) {
  return readFileSync(path.join(ROOT, 'examples', 'northwind', name), 'utf8');
}
