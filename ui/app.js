// app.js: the status page of symtaskd. Signs every API request in the page, as SymetryML's
// clients do (API.md, Security), so that the customer's secret never leaves the browser;
// polls the tasks once a second and keeps the samples of the last minutes for the charts.
'use strict';

const POLL_MS = 1000;
const WINDOW_MS = 5 * 60 * 1000; // what the charts show
const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const ACTIONS = ['start', 'stop', 'pause', 'resume'];

// The signed-in customer; the secret lives here only, never in storage or a URL.
let session = null; // {cid, secret, key: CryptoKey}
let pollTimer = null;
let nanoSeq = 0;
const samples = new Map(); // tid -> [{t, in, out, lag}], oldest first

const $ = (id) => document.getElementById(id);

function b64decode(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64encode(buf) {
  let bin = '';
  for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
  return btoa(bin);
}

// Sym-date: yyyy-MM-dd HH:mm:ss;nanos in UTC. The nanos also make each signature unique
// within a millisecond, since the daemon accepts a signature once.
function symDate(now) {
  const p = (n, w) => String(n).padStart(w, '0');
  nanoSeq = (nanoSeq + 1) % 1000000;
  const nanos = now.getUTCMilliseconds() * 1000000 + nanoSeq;
  return `${p(now.getUTCFullYear(), 4)}-${p(now.getUTCMonth() + 1, 2)}-${p(now.getUTCDate(), 2)} ` +
    `${p(now.getUTCHours(), 2)}:${p(now.getUTCMinutes(), 2)}:${p(now.getUTCSeconds(), 2)};${nanos}`;
}

// StringToSign = VERB \n Content-MD5 \n secret \n Sym-date \n cid \n [body \n] path \n
// [query \n]; the page sends no bodies, so Content-MD5 and the body part are empty.
async function sign(method, path, query, date) {
  let sts = `${method}\n\n${session.secret}\n${date}\n${session.cid}\n${path}\n`;
  if (query) sts += `${query}\n`;
  const mac = await crypto.subtle.sign('HMAC', session.key, new TextEncoder().encode(sts));
  return b64encode(mac);
}

// One signed request to the customer's API; resolves to {status, body} (body: the envelope,
// or null), or rejects when the daemon cannot be reached.
async function api(method, rest) {
  const [tail, query] = rest.split('?');
  const path = `/symetry/rest/${session.cid}${tail}`;
  const date = symDate(new Date());
  const headers = {
    'Authorization': await sign(method, path, query, date),
    'Sym-date': date,
    'Customer-ID': session.cid,
  };
  const res = await fetch(query ? `${path}?${query}` : path,
    {method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error'});
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  return {status: res.status, body};
}

function said(r) {
  return r.body && typeof r.body.statusString === 'string' ? r.body.statusString : `HTTP ${r.status}`;
}

// What a refused sign-in means, in the customer's words.
function signinError(r, cid) {
  const msg = said(r);
  if (r.status === 401 && msg === 'Invalid Signature')
    return `Wrong secret: symtaskd refused the signature for customer [${cid}] (Invalid Signature). ` +
      'Check the secret against the customers file.';
  if (r.status === 401 && msg === 'Invalid User')
    return `Customer [${cid}] is not known to this symtaskd (Invalid User).`;
  if (msg.startsWith('Please update your server time'))
    return `symtaskd refused the request's time: ${msg}. Check this computer's clock.`;
  return `Sign-in failed (${r.status}): ${msg}`;
}

function showError(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

async function signIn(ev) {
  ev.preventDefault();
  const cid = $('cid').value.trim();
  const secret = $('secret').value.trim();
  const err = $('signin-error');
  showError(err, '');
  if (!ID_RE.test(cid)) {
    showError(err, 'The customer id is 1 to 128 of A-Z a-z 0-9 . _ -');
    return;
  }
  const raw = b64decode(secret);
  if (raw === null || raw.length !== 16) {
    showError(err, 'The secret is the base64 of 16 bytes (24 characters ending in ==), as in the customers file.');
    return;
  }
  if (!window.crypto || !crypto.subtle) {
    showError(err, 'This browser offers no WebCrypto here: open the page over https or from localhost.');
    return;
  }
  const key = await crypto.subtle.importKey('raw', raw, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);
  session = {cid, secret, key};
  let r;
  try {
    r = await api('GET', '/tasks');
  } catch (e) {
    session = null;
    showError(err, `Cannot reach symtaskd: ${e.message}`);
    return;
  }
  if (r.status !== 200) {
    session = null;
    showError(err, signinError(r, cid));
    return;
  }
  $('secret').value = '';
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('who').textContent = `customer ${cid}`;
  $('who').hidden = false;
  $('signout').hidden = false;
  poll();
}

function signOut() {
  session = null;
  clearTimeout(pollTimer);
  pollTimer = null;
  samples.clear();
  $('tasks').tBodies[0].replaceChildren();
  $('dashboard').hidden = true;
  $('who').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  showError($('error'), '');
  $('message').textContent = '';
}

// The status maps of every task: one call where the daemon expands the list (GET
// /tasks?expand=status), else the list and one status call a task.
async function fetchStatuses() {
  const r = await api('GET', '/tasks?expand=status');
  if (r.status !== 200) throw new Error(`listing the tasks: ${said(r)}`);
  const v = r.body.values || {};
  const names = (v.stringList && v.stringList.values) || [];
  if (v.KSVSMap && Array.isArray(v.KSVSMap.values) && v.KSVSMap.values.length === names.length)
    return names.map((name, i) => [name, v.KSVSMap.values[i]]);
  const out = [];
  for (const name of names) {
    const s = await api('GET', `/tasks/${name}`);
    if (s.status === 404) continue; // deleted meanwhile
    if (s.status !== 200) throw new Error(`status of task [${name}]: ${said(s)}`);
    out.push([name, s.body.values.KSVSMap.values[0]]);
  }
  return out;
}

function num(s) {
  return s === undefined || s === '' ? null : Number(s);
}

function record(tid, st, t) {
  let list = samples.get(tid);
  if (!list) samples.set(tid, (list = []));
  list.push({t, in: num(st.recordsIn), out: num(st.recordsOut), lag: num(st.consumerLag)});
  while (list.length > 0 && list[0].t < t - WINDOW_MS) list.shift();
  return list;
}

// Records per second between samples a and b; null when unknown or the worker's counters
// started again (a restart).
function rate(a, b, key) {
  if (!a || a[key] === null || b[key] === null || b[key] < a[key] || b.t <= a.t) return null;
  return (b[key] - a[key]) * 1000 / (b.t - a.t);
}

const fmtRate = (r) => (r === null ? '–' : r.toFixed(1));

function drawChart(canvas, list) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (list.length < 2) return;
  const now = list[list.length - 1].t;
  const series = {in: [], out: []};
  let max = 1;
  for (let i = 1; i < list.length; i++) {
    for (const key of ['in', 'out']) {
      const r = rate(list[i - 1], list[i], key);
      if (r !== null) {
        series[key].push([list[i].t, r]);
        max = Math.max(max, r);
      }
    }
  }
  // the last 5 minutes once there are that many, what there is until then (30 s at least)
  const span = Math.min(WINDOW_MS, Math.max(30000, now - list[0].t));
  const x = (t) => w - ((now - t) / span) * w;
  const y = (r) => h - 2 - (r / max) * (h - 4);
  for (const [key, color] of [['in', '#1f5fbf'], ['out', '#13713b']]) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    series[key].forEach(([t, r], i) => (i === 0 ? ctx.moveTo(x(t), y(r)) : ctx.lineTo(x(t), y(r))));
    ctx.stroke();
  }
  canvas.title = `peak ${max.toFixed(1)} records/s; ${Math.round(span / 1000)} s shown`;
}

function cell(tr, cls, numeric) {
  const td = document.createElement('td');
  td.className = cls + (numeric ? ' num' : '');
  tr.appendChild(td);
  return td;
}

function makeRow(tid) {
  const tr = document.createElement('tr');
  tr.dataset.task = tid;
  cell(tr, 'name').textContent = tid;
  cell(tr, 'status');
  for (const c of ['rate-in', 'rate-out', 'lag', 'records-in', 'records-out', 'dead-letters']) cell(tr, c, true);
  const canvas = document.createElement('canvas');
  canvas.className = 'chart';
  canvas.width = 180;
  canvas.height = 36;
  cell(tr, 'chart').appendChild(canvas);
  cell(tr, 'last-error');
  const actions = cell(tr, 'actions');
  for (const a of ACTIONS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.action = a;
    b.textContent = a[0].toUpperCase() + a.slice(1);
    b.addEventListener('click', () => act(tid, a));
    actions.appendChild(b);
  }
  return tr;
}

// Which actions make sense in a status; the daemon decides anyway.
function allowed(action, status) {
  switch (action) {
    case 'start': return status === 'stopped' || status === 'failed';
    case 'stop': return status !== 'stopped';
    case 'pause': return status === 'running' || status === 'starting' || status === 'restarting';
    case 'resume': return status === 'paused';
  }
  return false;
}

function render(statuses, t) {
  const body = $('tasks').tBodies[0];
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.task, tr]));
  const seen = new Set();
  for (const [tid, st] of statuses) {
    seen.add(tid);
    let tr = rows.get(tid);
    if (!tr) body.appendChild((tr = makeRow(tid)));
    else body.appendChild(tr); // keeps the daemon's (sorted) order
    const list = record(tid, st, t);
    const last = list[list.length - 1], prev = list[list.length - 2];
    const q = (c) => tr.querySelector('td.' + c);
    q('status').textContent = st.status;
    q('status').className = `status status-${st.status}`;
    q('rate-in').textContent = fmtRate(rate(prev, last, 'in'));
    q('rate-out').textContent = fmtRate(rate(prev, last, 'out'));
    q('lag').textContent = st.consumerLag === '' || st.consumerLag === undefined ? '–' : st.consumerLag;
    q('records-in').textContent = st.recordsIn || '0';
    q('records-out').textContent = st.recordsOut || '0';
    q('dead-letters').textContent = st.recordsDeadLetter || '0';
    q('last-error').textContent = st.lastError || '';
    for (const b of tr.querySelectorAll('button[data-action]'))
      b.disabled = !allowed(b.dataset.action, st.status);
    drawChart(tr.querySelector('canvas'), list);
  }
  for (const [tid, tr] of rows) {
    if (!seen.has(tid)) {
      tr.remove();
      samples.delete(tid);
    }
  }
  $('empty').hidden = statuses.length > 0;
}

async function poll() {
  if (!session) return;
  const mine = session;
  try {
    const statuses = await fetchStatuses();
    if (session !== mine) return;
    render(statuses, Date.now());
    showError($('error'), '');
  } catch (e) {
    if (session !== mine) return;
    showError($('error'), e instanceof TypeError ? `Cannot reach symtaskd: ${e.message}` : e.message);
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

async function act(tid, action) {
  $('message').textContent = `${action} ${tid}...`;
  let r;
  try {
    r = await api('POST', `/tasks/${tid}/${action}`);
  } catch (e) {
    showError($('error'), `Cannot reach symtaskd: ${e.message}`);
    return;
  }
  if (r.status === 200) {
    $('message').textContent = said(r);
    showError($('error'), '');
  } else if (r.status === 404 && said(r).startsWith('no such endpoint')) {
    $('message').textContent = '';
    showError($('error'), `${action}: this symtaskd does not offer it (${said(r)})`);
  } else {
    $('message').textContent = '';
    showError($('error'), `${action} ${tid} refused (${r.status}): ${said(r)}`);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
});
