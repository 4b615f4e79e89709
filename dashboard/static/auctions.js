// Live auctions: the node's newest jobs, each with its bids as they
// arrive, the winner and why, from the job's events.
import {h, api, lines, jobLink, stateBadge, idText, credits, dur, finished, failed} from './core.js';

const KINDS = ['candidates', 'request', 'bid', 'decline', 'closed', 'rejected', 'winner', 'failover', 'waiting', 'held',
  'queued', 'running', 'replica', 'done'];
const SHOWN = 10;

function row(e) {
  const cells = [h('span', {class: 'muted'}, dur(e.elapsed_ns)), h('span', {class: `kind kind-${e.kind}`}, e.kind)];
  if (e.provider) cells.push(idText(e.provider));
  if (e.region) cells.push(h('span', {class: 'muted'}, e.region));
  if (e.kind === 'bid' || e.price_nano) cells.push(h('span', {class: 'price'}, `${credits(e.price_nano)} credits`));
  if (e.kind === 'winner') cells.push(h('strong', {}, 'won: '));
  if (e.message) cells.push(h('span', {class: 'message'}, e.message));
  if (e.kind === 'candidates') cells.push(`${e.count} candidates`);
  return h('li', {class: `event ${e.kind}`}, cells.map(c => [c, ' ']));
}

async function watch(j, panel) {
  const list = panel.querySelector('ul');
  const follow = !finished(j.state);
  try {
    await lines(`/v1/jobs/${encodeURIComponent(j.id)}/events${follow ? '?follow=1' : ''}`, l => {
      if (l.event && KINDS.includes(l.event.kind)) list.append(row(l.event));
    });
  } catch (err) {
    list.append(h('li', {class: 'muted'}, err.code === 'not_found' ? 'The node no longer keeps this job\'s events.' : failed('Events', err)));
  }
  if (follow) {
    const r = await api(`/v1/jobs/${encodeURIComponent(j.id)}`).catch(() => null);
    if (r) panel.querySelector('.badge').replaceWith(stateBadge(r.state));
  }
}

export default async function auctions(main) {
  const list = h('div', {id: 'auctions'});
  main.replaceChildren(h('h1', {}, 'Auctions'),
    h('p', {class: 'muted'}, `The auctions of this node's ${SHOWN} newest jobs, live while they run: bids as they arrive, declines, the winner and why.`),
    list);
  const seen = new Set();
  const poll = async () => {
    const jobs = ((await api('/v1/jobs')) || []).slice(0, SHOWN).reverse();
    for (const j of jobs) {
      if (seen.has(j.id)) continue;
      seen.add(j.id);
      const panel = h('section', {class: 'card auction', 'data-job': j.id},
        h('h2', {}, jobLink(j.id), ' ', j.name || '', ' ', stateBadge(j.state)), h('ul', {class: 'events'}));
      list.prepend(panel);
      watch(j, panel);
    }
    if (!seen.size) list.replaceChildren(h('p', {class: 'muted'}, 'No job yet: auctions appear here as this node submits jobs.'));
  };
  await poll();
  setInterval(() => poll().catch(() => {}), 3000);
}
