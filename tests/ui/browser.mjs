// browser.mjs: drives Debian's chromium through symtaskd's status page as a customer would:
// a wrong secret is refused with a clear message, the right one shows the running task,
// its counters move, the Stop button stops it. Run by tests/integration/test_ui_browser.c,
// which starts the daemon, the task and a producer; it exits 0 when every step passed.
//
// Environment: SYMTASK_UI_URL (http://127.0.0.1:PORT/ui/), SYMTASK_UI_CID,
// SYMTASK_UI_SECRET, SYMTASK_UI_WRONG_SECRET, SYMTASK_UI_TASK; CHROMIUM (default
// /usr/bin/chromium); SYMTASK_UI_SCREENSHOT, a PNG file to write at the end (optional).
import {chromium} from 'playwright-core';

const env = (name, dflt) => {
  const v = process.env[name] ?? dflt;
  if (v === undefined) throw new Error(`${name} must be set`);
  return v;
};
const url = env('SYMTASK_UI_URL');
const cid = env('SYMTASK_UI_CID');
const secret = env('SYMTASK_UI_SECRET');
const wrongSecret = env('SYMTASK_UI_WRONG_SECRET');
const tid = env('SYMTASK_UI_TASK');
const screenshot = process.env.SYMTASK_UI_SCREENSHOT;

let step = 0;
const ok = (what) => console.log(`ok ${++step} - ${what}`);
function check(cond, what) {
  if (!cond) throw new Error(`not ok: ${what}`);
}

// As root and on a machine without a network: no sandbox, nothing in the background.
const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  const context = await browser.newContext();
  page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // a CSP violation, a script error: the page must run without any
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const sent = [];
  page.on('request', (r) => sent.push({url: r.url(), headers: r.headers(), body: r.postData() || ''}));

  const res = await page.goto(url);
  check(res.status() === 200, `GET ${url} is 200, got ${res.status()}`);
  check((await page.title()) === 'symtask', 'the page is the status page');
  ok('the page loads under its Content-Security-Policy');

  const signin = async (s) => {
    await page.fill('#cid', cid);
    await page.fill('#secret', s);
    await page.click('#signin-button');
  };
  const error = page.locator('#signin-error');

  await signin('not base64');
  await error.waitFor({state: 'visible'});
  check((await error.textContent()).includes('base64 of 16 bytes'), 'a malformed secret says what a secret is');
  ok('a malformed secret is refused in the page');

  await signin(wrongSecret);
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.startsWith('Wrong secret'));
  const wrong = await error.textContent();
  check(wrong.includes(`customer [${cid}]`) && wrong.includes('Invalid Signature'), `wrong secret message: ${wrong}`);
  check(await page.locator('#dashboard').isHidden(), 'no dashboard after a wrong secret');
  ok(`a wrong secret shows: ${wrong}`);

  await signin(secret);
  const row = page.locator(`#tasks tbody tr[data-task="${tid}"]`);
  await row.waitFor({state: 'visible', timeout: 30000});
  check(await error.isHidden(), 'the error is gone once signed in');
  check((await page.inputValue('#secret').catch(() => '')) === '', 'the secret field is cleared');
  ok('the right secret shows the task');

  await page.waitForFunction((t) => {
    const s = document.querySelector(`#tasks tr[data-task="${t}"] td.status`);
    return s && s.textContent === 'running';
  }, tid, {timeout: 30000});
  const count = async (c) => Number(await row.locator(`td.${c}`).textContent());
  const in1 = await count('records-in');
  await page.waitForFunction(([t, n]) => {
    const tr = document.querySelector(`#tasks tr[data-task="${t}"]`);
    return Number(tr.querySelector('td.records-in').textContent) > n &&
      Number(tr.querySelector('td.records-out').textContent) > 0 &&
      /^[0-9]+\.[0-9]$/.test(tr.querySelector('td.rate-in').textContent);
  }, [tid, in1], {timeout: 60000, polling: 250});
  const in2 = await count('records-in');
  ok(`the counters move: records in ${in1} -> ${in2}, out ${await count('records-out')}, ` +
    `in/s ${await row.locator('td.rate-in').textContent()}, lag ${await row.locator('td.lag').textContent()}`);
  await page.waitForFunction((t) => {
    const c = document.querySelector(`#tasks tr[data-task="${t}"] canvas.chart`);
    return c.title.startsWith('peak');
  }, tid, {timeout: 30000});
  ok(`the chart draws: ${await row.locator('canvas.chart').getAttribute('title')}`);

  // Pause and resume where this daemon serves them (issue 20); where it does not, the page
  // says so in its error line.
  const statusIs = (want) => page.waitForFunction(([t, w]) => {
    const s = document.querySelector(`#tasks tr[data-task="${t}"] td.status`);
    return s && s.textContent === w;
  }, [tid, want], {timeout: 60000});
  const pageError = page.locator('#error');
  await row.locator('button[data-action="pause"]').click();
  await page.waitForFunction(() => {
    const m = document.getElementById('message').textContent;
    const e = document.getElementById('error');
    // the daemon's answer ("task [t1] is pausing"), not the page's "pause t1..." before it
    return /^task \[.*paus/.test(m) || (!e.hidden && e.textContent.startsWith('pause'));
  }, null, {timeout: 30000});
  if (await pageError.isVisible()) {
    const said = await pageError.textContent();
    check(said.startsWith('pause: this symtaskd does not offer it (no such endpoint'), `pause error: ${said}`);
    ok(`Pause on a daemon without it says: ${said}`);
  } else {
    await statusIs('paused');
    check(await row.locator('button[data-action="resume"]').isEnabled(), 'Resume is enabled while paused');
    check(await row.locator('button[data-action="pause"]').isDisabled(), 'Pause is disabled while paused');
    await row.locator('button[data-action="resume"]').click();
    await statusIs('running');
    const before = await count('records-in');
    await page.waitForFunction(([t, n]) => {
      const c = document.querySelector(`#tasks tr[data-task="${t}"] td.records-in`);
      return Number(c.textContent) > n;
    }, [tid, before], {timeout: 60000, polling: 250});
    ok(`Pause pauses the task and Resume resumes it: records in ${before} -> ${await count('records-in')}`);
  }

  check(await row.locator('button[data-action="start"]').isDisabled(), 'Start is disabled while running');
  await row.locator('button[data-action="stop"]').click();
  await page.waitForFunction((t) => {
    const s = document.querySelector(`#tasks tr[data-task="${t}"] td.status`);
    return s && s.textContent === 'stopped';
  }, tid, {timeout: 30000});
  check(await row.locator('button[data-action="start"]').isEnabled(), 'Start is enabled once stopped');
  ok(`Stop stops the task: ${await page.locator('#message').textContent()}`);

  // The secret never left the page: no request carried it, nothing stored it.
  for (const r of sent) {
    const all = r.url + JSON.stringify(r.headers) + r.body;
    check(!all.includes(secret) && !all.includes(wrongSecret), `request ${r.url} carries the secret`);
  }
  const stored = await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length);
  check(stored === 0, 'nothing is stored in the browser');
  const signed = sent.filter((r) => r.url.includes('/symetry/rest/'));
  check(signed.length > 0 && signed.every((r) => r.headers['authorization'] && r.headers['sym-date']),
    'every API request is signed');
  ok(`the secret never left the page (${sent.length} requests, ${signed.length} signed)`);

  check(problems.length === 0, `the page logged errors: ${problems.join(' | ')}`);
  ok('no script error or CSP violation');
  if (screenshot) await page.screenshot({path: screenshot, fullPage: true});
  console.log(`${step} passed, 0 failed`);
} catch (e) {
  console.error(String(e.stack || e));
  if (screenshot && page) await page.screenshot({path: screenshot, fullPage: true}).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
