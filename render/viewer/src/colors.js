// Colours: the background, a categorical palette for types (the SVG view's colours for its
// five shape types first), viridis for numbers and inferno for the field's heat map.

export const BACKGROUND = '#0b1020';
export const NULL_RGB = [110, 110, 120];

const SHAPE_COLORS = {
  cube: '#00e6ff',
  sphere: '#ff66aa',
  pyramid: '#ffcc33',
  torus: '#66ff99',
  point: '#c8b4ff',
};

// Distinct on a dark background (Tableau 10, brightened).
const PALETTE = [
  '#4e9cf5', '#ff9d3b', '#f0585b', '#86d4cf', '#69c257', '#f2d84c',
  '#c98ac0', '#ffa8b4', '#b89a86', '#d0cac6', '#9b7bff', '#3fd3a8',
];

export function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [v >> 16, (v >> 8) & 255, v & 255];
}

/** The colour of type `name`, the view's `code`-th type. */
export function typeColor(name, code) {
  return SHAPE_COLORS[name] || PALETTE[code % PALETTE.length];
}

function ramp(stops) {
  const rgbs = stops.map(rgb);
  const n = rgbs.length - 1;
  return (t, out = [0, 0, 0]) => {
    const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * n;
    const i = Math.min(Math.floor(x), n - 1);
    const f = x - i;
    for (let a = 0; a < 3; a++) out[a] = Math.round(rgbs[i][a] * (1 - f) + rgbs[i + 1][a] * f);
    return out;
  };
}

/** Numbers in [0, 1] to colours. */
export const viridis = ramp([
  '#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725',
]);

/** The field's heat map. */
export const inferno = ramp([
  '#000004', '#1b0c41', '#4a0c6b', '#781c6d', '#a52c60', '#cf4446', '#ed6925', '#fb9b06', '#f7d13d', '#fcffa4',
]);

/** A CSS gradient of a ramp, for legends. */
export function cssGradient(scale, steps = 8) {
  const parts = [];
  for (let k = 0; k <= steps; k++) {
    const [r, g, b] = scale(k / steps);
    parts.push(`rgb(${r},${g},${b}) ${Math.round((100 * k) / steps)}%`);
  }
  return `linear-gradient(to right, ${parts.join(', ')})`;
}
