// A small world map of regions. Regions are free-form strings
// ("eu-west", "us-east", "ap-south"): each is placed by its prefix on a
// coarse outline of the continents (equirectangular, 600×300), near the
// data-centre region of that name where it is a common one, and nudged by
// a direction word (east, west, north, south) otherwise. A region whose
// prefix names no continent is listed under the map, not guessed at.
import {s} from './core.js';

// Continents: [longitude, latitude] outlines, deliberately rough.
const LAND = [
  [[-165, 65], [-140, 70], [-95, 72], [-60, 60], [-55, 50], [-80, 25], [-97, 18], [-105, 20], [-125, 40], [-130, 55], [-165, 60]],
  [[-80, 10], [-60, 10], [-35, -7], [-40, -22], [-58, -38], [-70, -55], [-75, -40], [-72, -18], [-81, -5]],
  [[-10, 36], [-10, 44], [-5, 48], [5, 52], [8, 58], [5, 62], [15, 70], [30, 70], [40, 65], [40, 45], [28, 40], [20, 38], [10, 44], [0, 38]],
  [[-17, 21], [-5, 35], [10, 37], [32, 31], [43, 12], [51, 11], [40, -15], [20, -35], [12, -18], [9, 4], [-8, 5], [-17, 14]],
  [[40, 65], [60, 70], [100, 77], [140, 72], [180, 68], [170, 60], [140, 50], [122, 40], [122, 30], [108, 20], [105, 10], [100, 2],
    [95, 15], [80, 8], [72, 20], [57, 25], [48, 30], [35, 35], [40, 45]],
  [[114, -22], [130, -12], [142, -11], [153, -25], [150, -37], [140, -38], [130, -32], [115, -34]],
];

// Places of common region names, and each prefix's default.
const PLACES = {
  'us-east': [-77, 39], 'us-west': [-120, 38], 'us-central': [-95, 41], 'us': [-95, 41], 'na': [-95, 41],
  'ca': [-100, 56], 'sa-east': [-46, -23], 'sa': [-60, -15], 'br': [-46, -23],
  'eu-west': [-6, 53], 'eu-central': [8, 50], 'eu-north': [18, 59], 'eu-south': [12, 42], 'eu': [8, 50],
  'me': [50, 26], 'af-south': [28, -26], 'af': [20, 5],
  'ap-south': [73, 19], 'ap-southeast': [104, 1], 'ap-northeast': [140, 36], 'ap-east': [114, 22], 'ap': [100, 25],
  'as': [100, 25], 'cn': [116, 40], 'in': [73, 19], 'jp': [140, 36],
  'au': [151, -34], 'oc': [151, -34],
};

const NUDGE = {east: [12, 0], west: [-12, 0], north: [0, 8], south: [0, -8], central: [0, 0]};

const W = 600, H = 300;

function xy([lon, lat]) {
  return [(lon + 180) * W / 360, (90 - lat) * H / 180];
}

// place returns where region goes on the map, or null.
export function place(region) {
  const r = String(region || '').toLowerCase();
  const parts = r.split(/[-_]/);
  if (PLACES[r]) return xy(PLACES[r]);
  const two = parts.slice(0, 2).join('-');
  if (PLACES[two]) return xy(PLACES[two]);
  const base = PLACES[parts[0]];
  if (!base) return null;
  let [lon, lat] = base;
  for (const p of parts.slice(1)) {
    for (const [word, [dx, dy]] of Object.entries(NUDGE)) {
      if (p.includes(word)) { lon += dx; lat += dy; }
    }
  }
  return xy([lon, lat]);
}

// regionMap draws counts ({region: {n, title}}) as sized dots.
export function regionMap(counts) {
  const svg = s('svg', {viewBox: `0 0 ${W} ${H + 30}`, class: 'map', role: 'img', 'aria-label': 'providers by region'});
  for (const poly of LAND) {
    svg.append(s('polygon', {class: 'land', points: poly.map(p => xy(p).map(v => v.toFixed(1)).join(',')).join(' ')}));
  }
  let elsewhere = 0;
  const entries = Object.entries(counts).sort((a, b) => b[1].n - a[1].n);
  for (const [region, {n, title}] of entries) {
    let at = place(region);
    if (!at) {
      at = [20 + elsewhere * 110, H + 15];
      elsewhere++;
    }
    const r = 4 + 2.5 * Math.sqrt(n);
    svg.append(s('g', {class: 'region', 'data-region': region},
      s('title', {}, title || region),
      s('circle', {cx: at[0].toFixed(1), cy: at[1].toFixed(1), r: r.toFixed(1)}),
      s('text', {x: (at[0] + r + 3).toFixed(1), y: (at[1] + 4).toFixed(1)}, `${region || '(none)'} · ${n}`)));
  }
  if (elsewhere) svg.append(s('text', {class: 'muted', x: 4, y: H + 4}, 'regions of no known continent:'));
  return svg;
}
