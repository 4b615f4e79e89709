// Credits: the balance in the node's ledger, its receipts, and the
// balance over the time those receipts span.
import {h, s, api, card, stat, table, credits, jobLink, idText, when} from './core.js';

const RECENT = 200;

// delta is what receipt r did to peer's balance.
function delta(r, peer) {
  if (r.payee === peer) return Number(r.amount);
  if (r.payer === peer) return -Number(r.amount);
  return 0;
}

// stamp is a time on the chart's axis: the time of day, with the date
// when the chart spans more than half a day.
function stamp(ms, span) {
  const d = new Date(ms);
  return span > 12 * 3600e3 ? d.toLocaleString() : d.toLocaleTimeString();
}

// chart draws the balance after each receipt, ending at the balance now.
function chart(receipts, peer, now) {
  const rs = [...receipts].sort((a, b) => a.time_ms - b.time_ms);
  if (!rs.length) return h('p', {class: 'muted'}, 'No receipt yet: the chart starts with the first.');
  let bal = now - rs.reduce((sum, r) => sum + delta(r, peer), 0);
  const end = Math.max(Date.now(), rs[rs.length - 1].time_ms + 1);
  const lead = Math.max(60_000, (end - rs[0].time_ms) / 20); // a little of the time before the first receipt
  const pts = [[rs[0].time_ms - lead, bal]];
  for (const r of rs) {
    bal += delta(r, peer);
    pts.push([r.time_ms, bal]);
  }
  pts.push([end, bal]);
  const W = 1000, H = 220, L = 110, B = 24;
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  let lo = Math.min(...pts.map(p => p[1])), hi = Math.max(...pts.map(p => p[1]));
  if (lo === hi) { lo -= 1e9; hi += 1e9; }
  const x = t => L + (W - L - 10) * (t - t0) / (t1 - t0);
  const y = v => 10 + (H - B - 10) * (hi - v) / (hi - lo);
  let d = `M${x(pts[0][0]).toFixed(1)},${y(pts[0][1]).toFixed(1)}`;
  for (let i = 1; i < pts.length; i++) d += ` H${x(pts[i][0]).toFixed(1)} V${y(pts[i][1]).toFixed(1)}`;
  return s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', id: 'balance-chart', role: 'img', 'aria-label': 'balance over time'},
    s('line', {class: 'axis', x1: L, y1: H - B, x2: W - 10, y2: H - B}),
    s('line', {class: 'axis', x1: L, y1: 10, x2: L, y2: H - B}),
    lo < 0 && hi > 0 ? s('line', {class: 'zero', x1: L, y1: y(0).toFixed(1), x2: W - 10, y2: y(0).toFixed(1)}) : null,
    s('text', {x: L - 6, y: 14, 'text-anchor': 'end'}, credits(hi)),
    s('text', {x: L - 6, y: H - B, 'text-anchor': 'end'}, credits(lo)),
    s('text', {x: L, y: H - 6}, stamp(t0, t1 - t0)),
    s('text', {x: W - 10, y: H - 6, 'text-anchor': 'end'}, stamp(t1, t1 - t0)),
    s('path', {class: 'line', d}));
}

export default async function creditsPage(main) {
  const c = await api(`/v1/credits?recent=${RECENT}`);
  const b = c.balance;
  const receipts = c.receipts || [];
  main.replaceChildren(h('h1', {}, 'Credits'),
    h('div', {class: 'stats'},
      stat('balance', credits(b.balance_nano), {id: 'balance'}),
      stat('granted', credits(b.granted_nano)), stat('earned', credits(b.earned_nano)), stat('spent', credits(b.spent_nano)),
      stat('pending', `${credits((b.pending_in_nano || 0) - (b.pending_out_nano || 0))} (${b.pending || 0} receipts)`)),
    card('Balance over time', chart(receipts, c.peer, Number(b.balance_nano)),
      h('p', {class: 'muted'}, `From the ${receipts.length} most recent receipts (pending ones included), ending at the balance now.`)),
    card('Receipts',
      receipts.length ? table(['time', 'job', 'attempt', 'direction', 'counterparty', 'amount (credits)'],
        receipts.map(r => ({attrs: {'data-job': r.job}, cells: [
          when(r.time_ms), r.payer === c.peer ? jobLink(r.job) : idText(r.job), r.attempt,
          r.payer === c.peer ? 'paid' : r.payee === c.peer ? 'earned' : 'seen',
          idText(r.payer === c.peer ? r.payee : r.payer),
          h('span', {class: 'amount'}, `${delta(r, c.peer) < 0 ? '−' : ''}${credits(r.amount)}`)]})), {id: 'receipts'})
        : h('p', {class: 'muted'}, 'No receipt yet.')),
    card('Ledger', h('p', {}, `${c.ledger.receipts} receipts, ${c.ledger.grants} grants, ${c.ledger.peers} peers; ` +
      `${c.ledger.counted} receipts count.`)));
}
