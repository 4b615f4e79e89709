// For a device owner: earnings, capacity used, running and queued jobs,
// and drain (take no new jobs, stop once the running ones end).
import {h, api, card, stat, table, credits, cores, bytes, idText, when, failed} from './core.js';

function bar(label, used, total, fmt) {
  const pct = total > 0 ? Math.min(100, Math.round(100 * used / total)) : 0;
  const fill = h('div', {class: 'fill'});
  fill.style.width = `${pct}%`;
  return h('div', {class: 'meter'}, h('div', {class: 'meter-label'}, `${label}: ${fmt(used)} of ${fmt(total)} in use (${pct}%)`),
    h('div', {class: 'bar'}, fill));
}

export default async function owner(main) {
  const [info, c, jobs] = await Promise.all([api('/v1/info'), api('/v1/credits?recent=200'), api('/v1/provider/jobs')]);
  if (info.mode !== 'provider') {
    main.replaceChildren(h('h1', {}, 'Device'),
      h('p', {id: 'not-provider'}, 'This node is a client: it runs no jobs for others. Start it with --mode provider to sell its capacity.'));
    return;
  }
  const earned = (c.receipts || []).filter(r => r.payee === c.peer);
  const cap = info.capacity, free = info.free;
  const drainState = h('div', {id: 'drain-state'});
  const drawDrain = draining => {
    if (draining) {
      drainState.replaceChildren(h('p', {class: 'badge state-draining'}, 'Draining: no new jobs; the node stops once its running jobs end.'));
      return;
    }
    const sure = h('button', {id: 'drain-confirm', class: 'danger', hidden: true, onclick: async () => {
      sure.disabled = true;
      try {
        await api('/v1/drain', {method: 'POST'});
        drawDrain(true);
      } catch (err) {
        drainState.append(failed('Drain', err));
      }
    }}, 'Yes, drain this node');
    const ask = h('button', {id: 'drain', onclick: () => { ask.hidden = true; sure.hidden = false; }}, 'Drain…');
    drainState.replaceChildren(h('p', {}, 'Taking jobs. Draining makes the node decline new jobs, finish the running ones, then stop.'), ask, sure);
  };
  drawDrain(info.draining);
  main.replaceChildren(h('h1', {}, 'Device'),
    h('div', {class: 'stats'},
      stat('earned this session', credits(info.balance.earned_nano), {id: 'earned'}),
      stat('jobs run this session', info.balance.jobs_run),
      stat('running', info.running, {id: 'running'}), stat('queued', info.queued, {id: 'queued'}),
      stat('earned in all (ledger)', credits(c.balance.earned_nano))),
    card('Capacity used',
      bar('CPU', cap.cpu_millis - free.cpu_millis, cap.cpu_millis, cores),
      bar('Memory', cap.memory_bytes - free.memory_bytes, cap.memory_bytes, bytes),
      cap.gpus ? bar('GPUs', cap.gpus - (free.gpus || 0), cap.gpus, n => String(n)) : null,
      h('p', {class: 'muted'}, `Rates: ${credits(info.rates.cpu_hour)} credits per core-hour` +
        (info.rates.gpu_hour ? `, ${credits(info.rates.gpu_hour)} per GPU-hour` : '') + `. Region ${info.region || 'none'}.`)),
    card('Running and queued jobs', jobs.running.length || jobs.queued.length
      ? table(['job', 'state', 'cores', 'memory', 'GPUs'], [
        ...jobs.running.map(j => [idText(j.job), 'running', cores(j.resources.cpu_millis), bytes(j.resources.memory_bytes), String(j.resources.gpus || 0)]),
        ...jobs.queued.map((id, i) => [idText(id), `queued (#${i + 1})`, '', '', ''])], {id: 'provider-jobs'})
      : h('p', {class: 'muted', id: 'provider-jobs'}, 'No job running or queued now.')),
    card('Drain', drainState),
    card('Recent earnings', earned.length
      ? table(['time', 'job', 'client', 'amount (credits)'], earned.map(r => [when(r.time_ms), idText(r.job), idText(r.payer), credits(r.amount)]), {id: 'earnings'})
      : h('p', {class: 'muted'}, 'No job run for others in the ledger\'s recent receipts.')));
}
