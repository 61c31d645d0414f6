// Level of detail: how many objects of each octree cell to draw under a point budget.
//
// Cells outside the view get none. The others share the budget in proportion to their
// object count times a detail factor 1 / max(distance, radius): a near cell is drawn denser
// than a far one, and no cell gets more than it has. The share is water-filled: find λ so
// that Σ min(total_c, λ · total_c · f_c) = budget (bisection; the sum grows with λ).
// Each cell's objects are in a random order (a hash of the id), so drawing the first k is a
// uniform sample of the cell.

/**
 * @param {{total: number}[]} cells
 * @param {number} budget
 * @param {(i: number) => number} detail  the factor f_c of cell i; 0 when it is out of view
 * @returns {Uint32Array} objects to draw per cell
 */
export function allocate(cells, budget, detail) {
  const n = cells.length;
  const want = new Uint32Array(n);
  const f = new Float64Array(n);
  let visible = 0;
  for (let i = 0; i < n; i++) {
    f[i] = detail(i);
    if (f[i] > 0) visible += cells[i].total;
  }
  if (visible <= budget) {
    for (let i = 0; i < n; i++) if (f[i] > 0) want[i] = cells[i].total;
    return want;
  }
  const drawn = (lambda) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      if (f[i] > 0) s += Math.min(cells[i].total, lambda * cells[i].total * f[i]);
    }
    return s;
  };
  let lo = 0;
  let hi = 1;
  while (drawn(hi) < budget) hi *= 2;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (drawn(mid) <= budget) lo = mid;
    else hi = mid;
  }
  for (let i = 0; i < n; i++) {
    if (f[i] > 0) want[i] = Math.floor(Math.min(cells[i].total, lo * cells[i].total * f[i]));
  }
  return want;
}
