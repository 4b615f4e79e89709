// Overview: the node, its peers, providers by region, going rates.
import {h, api, card, stat, table, credits, idText, dur, cores, failed} from './core.js';
import {regionMap} from './map.js';

export default async function overview(main) {
  const info = await api('/v1/info');
  const provCard = card('Providers by region', h('p', {class: 'muted'}, 'Searching the mesh…'));
  const ratesCard = card('Going rates (last hour)', h('p', {class: 'muted'}, 'Loading…'));
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    h('div', {class: 'stats'},
      stat('peers connected', info.peers, {id: 'peers'}),
      stat('mode', info.mode),
      stat('region', info.region || '—'),
      stat('earned this session', credits(info.balance.earned_nano)),
      stat('spent this session', credits(info.balance.spent_nano)),
      stat('jobs running · queued', `${info.running} · ${info.queued}`)),
    h('div', {class: 'grid'}, provCard, ratesCard),
    card('This node',
      h('dl', {},
        h('dt', {}, 'peer ID'), h('dd', {class: 'mono'}, info.peer_id),
        h('dt', {}, 'network'), h('dd', {}, info.network),
        h('dt', {}, 'addresses'), h('dd', {class: 'mono'}, (info.addrs || []).map(a => h('div', {}, a))),
        h('dt', {}, 'connections'), h('dd', {}, `${info.conns.direct} direct, ${info.conns.relayed} relayed`))));
  await Promise.all([providers(provCard), rates(ratesCard)]);
}

async function providers(el) {
  let ps;
  try {
    ps = await api('/v1/providers', {method: 'POST', body: {}});
  } catch (err) {
    el.replaceChildren(el.firstChild, failed('Searching providers', err));
    return;
  }
  ps = ps || [];
  const counts = Object.create(null); // regions are a peer's strings: "__proto__" is a key like any other
  for (const p of ps) {
    if (!p.record || p.error || p.unreachable) continue;
    const c = counts[p.record.region] || (counts[p.record.region] = {n: 0, title: ''});
    c.n++;
    c.title += `${p.peer}\n`;
  }
  const rows = ps.map(p => [
    idText(p.peer),
    p.record ? p.record.region : '',
    p.record ? credits(p.record.rates.cpu_hour) : '',
    p.record ? cores(p.record.free.cpu_millis) : '',
    p.rtt_ns ? dur(p.rtt_ns) : '',
    p.error || p.unreachable || p.mismatch || 'ok',
  ]);
  el.replaceChildren(el.firstChild,
    regionMap(counts),
    ps.length ? table(['provider', 'region', 'credits / core-hour', 'free', 'RTT', 'status'], rows, {id: 'providers'})
      : h('p', {class: 'muted'}, 'No provider found on the mesh yet.'));
}

async function rates(el) {
  try {
    const rs = (await api('/v1/market?window=1h')) || [];
    el.replaceChildren(el.firstChild, rs.length
      ? table(['class', 'bids', 'providers', 'p10', 'median', 'p90', 'regions'],
        rs.map(r => [r.class, r.bids, r.providers, credits(r.p10_nano), credits(r.median_nano), credits(r.p90_nano), (r.regions || []).join(', ')]),
        {id: 'rates'})
      : h('p', {class: 'muted'}, 'No bids heard in the last hour: the node hears them once it has submitted a job.'),
    h('p', {class: 'muted'}, 'Rates in credits per hour, from the bids this node heard.'));
  } catch (err) {
    el.replaceChildren(el.firstChild, failed('Going rates', err));
  }
}
