// Helpers every page uses: building elements (text only: nothing a peer
// sends is ever parsed as HTML), calling the node's API, formatting.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h builds an HTML element: h('a', {href: '/x'}, 'text', child, ...).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s builds an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

// APIError is an error the node answered with ({"code", "message"}).
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function failure(resp) {
  const text = await resp.text();
  try {
    const e = JSON.parse(text);
    if (e && e.code) return new APIError(resp.status, e.code, e.message);
  } catch (_) { /* not JSON: its text says it */ }
  return new APIError(resp.status, '', text.trim() || `HTTP ${resp.status}`);
}

// The session's page key: the login hands it to the page in the URL's
// fragment (#k=..., which the browser sends to no server); the page keeps
// it in this origin's localStorage, which no page on another port can
// read, and sends it with every API request beside the cookie, which
// every local port receives. localStorage rather than sessionStorage:
// the cookie is the browser's, shared by its tabs, and so is the key (a
// new tab or a later login in another tab goes on working); logging out
// removes it, and the node forgets the session anyway when it stops or
// after 12 hours.
const KEY = 'meshnode-key';

// takeKey moves the key from the URL's fragment into localStorage and
// takes it out of the URL (and the history).
export function takeKey() {
  const m = /^#k=([0-9a-f]{64})$/.exec(location.hash);
  if (!m) return;
  localStorage.setItem(KEY, m[1]);
  history.replaceState(history.state, '', location.pathname + location.search);
}

// request fetches path from the node's API (same origin: the session
// cookie goes along) with the page key.
async function request(path, {method = 'GET', body, signal} = {}) {
  const init = {method, signal, headers: {}};
  const key = localStorage.getItem(KEY);
  if (key) init.headers['X-Meshnode-Key'] = key;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(path, init);
  if (!resp.ok) throw await failure(resp);
  return resp;
}

// logout ends the session on the node and forgets its key.
export async function logout() {
  try {
    await request('/v1/dashboard/logout', {method: 'POST'});
  } finally {
    localStorage.removeItem(KEY);
  }
}

// apiHead answers a HEAD request of path (its headers).
export function apiHead(path) {
  return request(path, {method: 'HEAD'});
}

// download fetches path (a plain link would carry no key) and saves it as
// name: a Blob URL clicked through a temporary <a download>, revoked once
// the download has had time to start.
export async function download(path, name) {
  const resp = await request(path);
  const url = URL.createObjectURL(await resp.blob());
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// api calls the node's API and returns its JSON answer (null for an empty
// one).
export async function api(path, opts) {
  const resp = await request(path, opts);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

// lines calls path and hands each line of its NDJSON answer, parsed, to
// each as it arrives; it ends with the answer (or when signal aborts).
export async function lines(path, each, opts) {
  const resp = await request(path, opts);
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (value) buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) each(JSON.parse(line));
    }
    if (done) break;
  }
  if (buf.trim()) each(JSON.parse(buf));
}

// lineError is the error of an NDJSON line ({"error": {"code", "message"}}).
export function lineError(l) {
  if (!l.error) return null;
  if (typeof l.error === 'string') return new APIError(0, l.bad_request ? 'bad_request' : 'upstream', l.error);
  return new APIError(0, l.error.code, l.error.message);
}

// credits formats nano-credits as the CLI does (job.Credits.String):
// credits with up to nine decimals, no trailing zeros.
export function credits(nano) {
  const n = Number(nano || 0);
  const neg = n < 0;
  const u = Math.abs(n);
  const whole = Math.floor(u / 1e9);
  const frac = u - whole * 1e9;
  let out = String(whole);
  if (frac) out += '.' + String(frac).padStart(9, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + out;
}

const HEADERS = ['bagaaiera', 'bafkrei', 'bafybei', '12D3KooW', 'Qm'];

// short is an ID's short form, as the CLI's tables print it.
export function short(id) {
  if (!id) return '';
  for (const p of HEADERS) {
    if (id.length > p.length && id.startsWith(p)) {
      const d = id.slice(p.length);
      return d.length <= 12 ? id : d.slice(0, 12);
    }
  }
  return id.length <= 12 ? id : id.slice(0, 12);
}

// idText shows an ID by its short form, the whole ID on hover.
export function idText(id) {
  return h('span', {class: 'id', title: id}, short(id));
}

// when formats a time (RFC 3339 or unix ms) in the browser's zone.
export function when(t) {
  if (!t || t === '0001-01-01T00:00:00Z') return '';
  const d = typeof t === 'number' ? new Date(t) : new Date(t);
  return isNaN(d) ? '' : d.toLocaleString();
}

// dur formats nanoseconds.
export function dur(ns) {
  const ms = Number(ns || 0) / 1e6;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  const sec = ms / 1000;
  if (sec < 120) return `${sec.toFixed(1)} s`;
  return `${(sec / 60).toFixed(1)} min`;
}

// bytes formats a size.
export function bytes(n) {
  n = Number(n || 0);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// cores formats CPU millis.
export function cores(m) {
  return `${(Number(m || 0) / 1000).toFixed(m % 1000 ? 1 : 0)} cores`;
}

// table builds a table of rows (arrays of cells) under headers.
export function table(headers, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))),
    h('tbody', {}, rows.map(r => h('tr', r.attrs || {}, (r.cells || r).map(c => h('td', {}, c))))));
}

// card is a titled box.
export function card(title, ...children) {
  return h('section', {class: 'card'}, h('h2', {}, title), ...children);
}

// stat is a big number with a label.
export function stat(label, value, attrs) {
  return h('div', Object.assign({class: 'stat'}, attrs || {}), h('div', {class: 'value'}, value), h('div', {class: 'label'}, label));
}

// failed shows an error where content would be.
export function failed(where, err) {
  return h('p', {class: 'error'}, `${where}: ${err && err.message ? err.message : err}`);
}

// stateBadge shows a job state.
export function stateBadge(state) {
  return h('span', {class: `badge state-${state || 'unknown'}`}, state || '?');
}

// jobLink links to a job's page.
export function jobLink(id, text) {
  return h('a', {href: `/dashboard/jobs/${encodeURIComponent(id)}`, class: 'id', title: id}, text || short(id));
}

// finished reports whether a job state is final.
export function finished(state) {
  return ['completed', 'failed', 'timeout', 'unscheduled', 'cancelled'].includes(state);
}
