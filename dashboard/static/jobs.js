// Jobs: the list, with filters; and one job's page (job.js).
import {h, api, table, idText, jobLink, stateBadge, when, credits, finished} from './core.js';
export {jobPage} from './job.js';

const FILTERS = [
  ['all', () => true],
  ['unfinished', j => !finished(j.state)],
  ['completed', j => j.state === 'completed'],
  ['failed', j => ['failed', 'timeout', 'unscheduled'].includes(j.state)],
  ['cancelled', j => j.state === 'cancelled'],
];

export async function jobList(main) {
  const jobs = (await api('/v1/jobs')) || [];
  const params = new URLSearchParams(location.search);
  const state = h('select', {id: 'state-filter'}, FILTERS.map(([name]) => h('option', {value: name}, name)));
  state.value = params.get('state') || 'all';
  const text = h('input', {id: 'text-filter', type: 'search', placeholder: 'ID, name, provider or region', value: params.get('q') || ''});
  const out = h('div', {});
  const draw = () => {
    const keep = FILTERS.find(([name]) => name === state.value)[1];
    const q = text.value.trim().toLowerCase();
    const shown = jobs.filter(j => keep(j) && (!q || [j.id, j.name, j.provider, j.region].some(v => (v || '').toLowerCase().includes(q))));
    out.replaceChildren(shown.length
      ? table(['job', 'name', 'state', 'submitted', 'provider', 'region', 'charge', 'attempts'],
        shown.map(j => ({attrs: {'data-job': j.id}, cells: [
          jobLink(j.id), j.name || '', stateBadge(j.state), when(j.submitted),
          j.provider ? idText(j.provider) : '', j.region || '', credits(j.charge_nano), j.attempts]})),
        {id: 'jobs'})
      : h('p', {class: 'muted'}, jobs.length ? 'No job matches.' : 'This node has submitted no job yet.'));
    const u = new URLSearchParams();
    if (state.value !== 'all') u.set('state', state.value);
    if (q) u.set('q', text.value.trim());
    history.replaceState(null, '', u.toString() ? `?${u}` : location.pathname);
  };
  state.addEventListener('change', draw);
  text.addEventListener('input', draw);
  main.replaceChildren(
    h('h1', {}, 'Jobs'),
    h('div', {class: 'filters'}, h('label', {}, 'State ', state), h('label', {}, 'Find ', text),
      h('a', {href: '/dashboard/submit', class: 'button'}, 'Submit a job')),
    out);
  draw();
}
