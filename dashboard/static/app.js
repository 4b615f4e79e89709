// The dashboard's one page: it draws the page its path names.
import {h, api, short, failed, takeKey, logout} from './core.js';
import overview from './overview.js';
import auctions from './auctions.js';
import {jobList, jobPage} from './jobs.js';
import submit from './submit.js';
import creditsPage from './credits.js';
import owner from './owner.js';

const PAGES = [
  ['/dashboard/', 'Overview', overview],
  ['/dashboard/auctions', 'Auctions', auctions],
  ['/dashboard/jobs', 'Jobs', jobList],
  ['/dashboard/submit', 'Submit', submit],
  ['/dashboard/credits', 'Credits', creditsPage],
  ['/dashboard/owner', 'Device', owner],
];

function route(path) {
  const m = path.match(/^\/dashboard\/jobs\/([^/]+)\/?$/);
  if (m) return [jobPage, '/dashboard/jobs', decodeURIComponent(m[1])];
  const p = PAGES.find(([at]) => at === path || at === path.replace(/\/$/, ''));
  return p ? [p[2], p[0]] : null;
}

// logOut ends the session (also when the node cannot be reached: the key
// is forgotten all the same) and shows the page that says how to log in.
async function logOut(button) {
  button.disabled = true;
  try { await logout(); } catch (_) { /* the key is gone; the node forgets the session in time */ }
  location.assign('/dashboard/');
}

async function main() {
  takeKey();
  const path = location.pathname === '/dashboard' ? '/dashboard/' : location.pathname;
  const nav = document.getElementById('nav');
  const body = document.getElementById('main');
  const r = route(path);
  nav.replaceChildren(...PAGES.map(([at, name]) =>
    h('a', {href: at, class: r && r[1] === at ? 'active' : null}, name)));
  const out = h('button', {id: 'logout', class: 'link', title: 'End this browser\'s dashboard session', onclick: () => logOut(out)}, 'Log out');
  document.getElementById('node').after(out);
  api('/v1/info').then(info => {
    document.getElementById('node').replaceChildren(
      h('span', {title: info.peer_id}, `${info.mode} ${short(info.peer_id)}`),
      info.region ? h('span', {class: 'muted'}, ` · ${info.region}`) : null,
      h('span', {class: 'muted'}, ` · ${info.network}`));
  }, () => {});
  if (!r) {
    body.replaceChildren(h('h1', {}, 'No such page'), h('p', {}, h('a', {href: '/dashboard/'}, 'Overview')));
    return;
  }
  try {
    await r[0](body, r[2]);
  } catch (err) {
    body.append(failed('This page', err));
  }
  document.body.dataset.ready = '1';
}

main();
