// One job: its state, rounds (bids, declines, rejections), attempts, live
// log, and outputs to download.
import {h, api, apiHead, download, lines, card, table, idText, stateBadge, when, dur, credits, bytes, finished, failed} from './core.js';

function text(b64) {
  if (!b64) return '';
  return new TextDecoder().decode(Uint8Array.from(atob(b64), c => c.charCodeAt(0)));
}

function summary(rec) {
  const sp = rec.spec || {}, o = rec.outcome;
  const what = sp.module ? ['module', h('span', {class: 'mono'}, sp.module)]
    : sp.image ? ['image', sp.image] : ['command', sp.command || ''];
  const rows = [
    ['name', sp.name || ''], ['executor', sp.executor], what,
    ['arguments', (sp.args || []).join(' ')],
    ['submitted', when(rec.submitted)], ['finished', when(rec.finished)],
    ['policy', sp.policy || ''], ['region', [sp.region, ...(sp.not_regions || []).map(r => `not ${r}`)].filter(Boolean).join(', ') || 'anywhere'],
    ['max price', sp.max_price ? credits(sp.max_price) : 'none'],
  ];
  if (o) {
    rows.push(['provider', o.provider ? idText(o.provider) : ''], ['price', credits(o.price_nano)],
      ['charge', h('span', {id: 'charge'}, credits(o.charge_nano))], ['exit code', o.exit_code],
      ['why it won', o.reason || ''], ['error', o.error || '']);
  }
  return h('dl', {}, rows.filter(([, v]) => v !== '' && v !== undefined).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function rounds(rec) {
  if (!rec.rounds || !rec.rounds.length) return h('p', {class: 'muted'}, 'No auction yet.');
  return h('div', {},
    rec.rounds_dropped ? h('p', {class: 'muted'}, `${rec.rounds_dropped} earlier rounds not kept`) : null,
    rec.rounds.map((r, i) => h('div', {class: 'round'},
      h('h3', {}, `Round ${i + 1 + (rec.rounds_dropped || 0)}`),
      h('p', {class: 'muted'}, `${when(r.started)} · ${r.candidates} candidates${r.closed ? ` · closed: ${r.closed}` : ''}`),
      (r.answers || []).length ? table(['provider', 'region', 'bid', 'queued ahead'], r.answers.map(a => ({
        attrs: {class: a.decline ? 'decline' : 'bid'},
        cells: [idText(a.provider), a.region || '', a.decline ? `declined: ${a.decline}`
          : h('span', {class: 'price'}, `${credits(a.price_nano)} credits`), a.queue || 0]})), {class: 'bids'}) : null,
      (r.rejected || []).length ? [h('h4', {}, 'Rejected'),
        table(['provider', 'price', 'why'], r.rejected.map(x => [idText(x.provider), credits(x.price_nano), x.reason]))] : null,
      (r.awarded || []).length ? h('p', {}, 'Awarded: ', r.awarded.map(p => [idText(p), ' '])) : null,
      r.waiting ? h('p', {class: 'muted'}, `Waited: ${r.waiting}`) : null)));
}

function attempts(rec) {
  if (!rec.attempts || !rec.attempts.length) return h('p', {class: 'muted'}, 'No attempt yet.');
  return table(['#', 'provider', 'region', 'price', 'why', 'started', 'ran', 'result', 'charge', 'error'],
    rec.attempts.map(a => [a.n, idText(a.provider), a.region || '', credits(a.price_nano), a.why || '', when(a.start),
      a.duration_ns ? dur(a.duration_ns) : '', a.result || 'under way', credits(a.charge_nano), a.error || '']), {id: 'attempts'});
}

function contentURL(cid, path) {
  return `/v1/content/${encodeURIComponent(cid)}` + path.split('/').filter(Boolean).map(p => `/${encodeURIComponent(p)}`).join('');
}

// saveButton downloads the file at path beneath cid as name (fetched with
// the session's key: a plain link to the API would carry none).
function saveButton(cid, path, name, text) {
  const b = h('button', {class: 'link download', 'data-file': name, onclick: async () => {
    b.disabled = true;
    try { await download(contentURL(cid, path), name); } catch (err) { b.after(failed('Download', err)); }
    b.disabled = false;
  }}, text);
  return b;
}

// listing shows the directory at path beneath cid, its files as downloads.
async function listing(cid, path) {
  const resp = await apiHead(contentURL(cid, path));
  if (!(resp.headers.get('Content-Type') || '').startsWith('application/json')) {
    return saveButton(cid, path, path.split('/').pop() || cid, `download ${path || cid}`);
  }
  const l = await api(contentURL(cid, path));
  return h('ul', {class: 'files'}, (l.entries || []).map(e => {
    const p = `${path}/${e.name}`;
    if (e.type === 'dir') {
      const li = h('li', {}, h('button', {class: 'link', onclick: async () => {
        li.querySelector('button').disabled = true;
        try { li.append(await listing(cid, p)); } catch (err) { li.append(failed('Listing', err)); }
      }}, `${e.name}/`));
      return li;
    }
    return h('li', {}, saveButton(cid, p, e.name, e.name), h('span', {class: 'muted'}, ` ${bytes(e.size)}`));
  }));
}

async function outputs(el, rec) {
  const cid = rec.outcome && rec.outcome.outputs;
  if (!cid) {
    el.replaceChildren(h('p', {class: 'muted'}, rec.outcome ? 'The job left no outputs.' : 'Outputs come once the job ends.'));
    return;
  }
  try {
    el.replaceChildren(h('p', {class: 'mono'}, cid), await listing(cid, ''));
  } catch (err) {
    el.replaceChildren(failed('Outputs', err));
  }
}

export async function jobPage(main, ref) {
  let rec = await api(`/v1/jobs/${encodeURIComponent(ref)}`);
  const id = rec.id;
  const head = h('div'), sum = h('div'), rnd = h('div'), att = h('div'), out = h('div');
  const log = h('pre', {id: 'log', class: 'log'});
  const cancel = h('button', {id: 'cancel', onclick: async () => {
    cancel.disabled = true;
    try { await api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, {method: 'POST'}); } catch (err) { head.append(failed('Cancel', err)); }
    await refresh();
  }}, 'Cancel');
  const draw = () => {
    head.replaceChildren(h('h1', {}, 'Job ', stateBadge(rec.state), ' ', finished(rec.state) ? '' : cancel),
      h('p', {id: 'job-id', class: 'mono'}, id));
    sum.replaceChildren(summary(rec));
    rnd.replaceChildren(rounds(rec));
    att.replaceChildren(attempts(rec));
  };
  const refresh = async () => {
    rec = await api(`/v1/jobs/${encodeURIComponent(id)}`);
    draw();
    if (rec.outcome) await outputs(out, rec);
  };
  draw();
  await outputs(out, rec);
  main.replaceChildren(head, h('div', {class: 'grid'}, card('Job', sum), card('Live log', log)),
    card('Auctions', rnd), card('Attempts', att), card('Outputs', out));
  follow(id, rec, log, refresh);
}

// follow streams the job's events: log chunks into log, the rest make the
// page draw the record again.
async function follow(id, rec, log, refresh) {
  let pending = null;
  const later = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 300); };
  let logged = false;
  try {
    await lines(`/v1/jobs/${encodeURIComponent(id)}/events?follow=1`, l => {
      if (!l.event) return;
      if (l.event.kind === 'log') {
        log.append(l.event.message);
        logged = true;
      } else later();
    });
  } catch (err) {
    if (err.code !== 'not_found') log.after(failed('Following the job', err));
  }
  await refresh().catch(() => {});
  if (!logged) {
    const r = await api(`/v1/jobs/${encodeURIComponent(id)}`).catch(() => rec);
    const o = r.outcome;
    const t = o ? text(o.stdout) + text(o.stderr) : '';
    log.append(t || '(no output)');
  }
  log.dataset.done = '1';
}
