// Submit: a WASM module uploaded from this computer, or a container
// image; resources, constraints and the scheduling policy.
import {h, api, lines, lineError, card, jobLink, failed} from './core.js';
import {moduleCID, base64} from './cid.js';

function field(label, input, note) {
  return h('label', {class: 'field'}, h('span', {}, label), input, note ? h('small', {class: 'muted'}, note) : null);
}

function num(v, scale) {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.round(n * scale) : 0;
}

export default async function submit(main) {
  const info = await api('/v1/info');
  const kind = h('select', {id: 'kind'}, h('option', {value: 'wasm'}, 'WASM module (upload)'), h('option', {value: 'docker'}, 'container image'));
  const file = h('input', {id: 'module', type: 'file', accept: '.wasm,application/wasm'});
  const image = h('input', {id: 'image', type: 'text', placeholder: 'myorg/job:1'});
  const f = {
    name: h('input', {id: 'name', type: 'text', placeholder: 'argv[0] (the file name by default)'}),
    args: h('input', {id: 'args', type: 'text', placeholder: 'arguments, separated by spaces'}),
    cpu: h('input', {id: 'cpu', type: 'number', min: '0.1', step: '0.1', value: '1'}),
    mem: h('input', {id: 'mem', type: 'number', min: '1', value: '64'}),
    timeout: h('input', {id: 'timeout', type: 'number', min: '1', value: '60'}),
    region: h('input', {id: 'region', type: 'text', placeholder: 'e.g. eu-* (empty: anywhere)'}),
    notRegion: h('input', {id: 'not-region', type: 'text', placeholder: 'e.g. us-central, ap-*'}),
    maxPrice: h('input', {id: 'max-price', type: 'number', min: '0', step: 'any', placeholder: 'credits (empty: no limit)'}),
    policy: h('select', {id: 'policy'}, ['cost', 'latency', 'green', 'balanced'].map(p => h('option', {value: p}, p))),
    maxCarbon: h('input', {id: 'max-carbon', type: 'number', min: '0', step: 'any', placeholder: 'grams CO2e (empty: no limit)'}),
    auction: h('select', {id: 'auction'}, h('option', {value: ''}, 'first-price'), h('option', {value: 'second-price'}, 'second-price')),
    replicas: h('input', {id: 'replicas', type: 'number', min: '1', value: '1'}),
    deterministic: h('input', {id: 'deterministic', type: 'checkbox'}),
  };
  const status = h('div', {id: 'submit-status'});
  const go = h('button', {id: 'submit', type: 'button'}, 'Submit');
  const which = () => {
    file.closest('label').hidden = kind.value !== 'wasm';
    image.closest('label').hidden = kind.value === 'wasm';
  };
  kind.addEventListener('change', which);
  go.addEventListener('click', async () => {
    go.disabled = true;
    status.replaceChildren(h('p', {class: 'muted'}, 'Submitting…'));
    try {
      const id = await send(kind.value, file, image, f);
      status.replaceChildren(h('p', {id: 'submitted'}, 'Submitted: ', jobLink(id, id)));
    } catch (err) {
      status.replaceChildren(failed('Not submitted', err));
    } finally {
      go.disabled = false;
    }
  });
  main.replaceChildren(h('h1', {}, 'Submit a job'),
    info.mode === 'provider' ? h('p', {class: 'muted'}, 'This node is a provider: it never bids on its own jobs, other providers run them.') : null,
    h('form', {class: 'submit', onsubmit: e => e.preventDefault()},
      card('What to run', field('Kind', kind), field('Module', file, 'sent to the node, then by CID to the winner only'),
        field('Image', image), field('Name', f.name), field('Arguments', f.args)),
      card('Resources', field('CPU (cores)', f.cpu), field('Memory (MiB)', f.mem), field('Timeout (s)', f.timeout)),
      card('Constraints and policy', field('Region', f.region), field('Not in regions', f.notRegion),
        field('Max price (credits)', f.maxPrice), field('Policy', f.policy, 'green: the lowest estimated emissions at the providers\' declared carbon intensity, then price'),
        field('Max carbon (g CO2e)', f.maxCarbon, 'bids whose estimate is over it, or that declare no intensity, are rejected'), field('Auction', f.auction),
        field('Replicas', f.replicas), field('Deterministic', f.deterministic, 'a fixed clock and seeded randomness (replicas of a WASM job need it)')),
      go),
    status);
  which();
}

async function send(kind, file, image, f) {
  const spec = {
    executor: kind, name: f.name.value.trim(), args: f.args.value.trim() ? f.args.value.trim().split(/\s+/) : undefined,
    resources: {cpu_millis: num(f.cpu.value, 1000) || 1000, memory_bytes: (num(f.mem.value, 1) || 64) * 1048576},
    timeout_ms: (num(f.timeout.value, 1) || 60) * 1000, policy: f.policy.value,
    region: f.region.value.trim() || undefined,
    not_regions: f.notRegion.value.split(',').map(x => x.trim()).filter(Boolean),
    max_price: num(f.maxPrice.value, 1e9) || undefined, auction: f.auction.value || undefined,
    max_carbon_ug: num(f.maxCarbon.value, 1e6) || undefined,
    replicas: num(f.replicas.value, 1) > 1 ? num(f.replicas.value, 1) : undefined, deterministic: f.deterministic.checked || undefined,
  };
  if (!spec.not_regions.length) delete spec.not_regions;
  const req = {spec, detach: true};
  if (kind === 'wasm') {
    const fl = file.files[0];
    if (!fl) throw new Error('choose a .wasm module');
    const b = new Uint8Array(await fl.arrayBuffer());
    spec.module = await moduleCID(b);
    spec.name = spec.name || fl.name;
    req.module = base64(b);
  } else {
    spec.image = image.value.trim();
    if (!spec.image) throw new Error('name an image');
    spec.name = spec.name || spec.image;
  }
  let id = '';
  await lines('/v1/jobs', l => {
    const err = lineError(l);
    if (err) throw err;
    if (l.outcome) id = l.outcome.job;
  }, {method: 'POST', body: req});
  if (!id) throw new Error('the node answered without a job ID');
  return id;
}
