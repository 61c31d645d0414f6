// The point budget: shares, limits and what is out of view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocate } from '../src/lod.js';

test('everything in view is drawn while it fits the budget', () => {
  const cells = [{ total: 10 }, { total: 20 }, { total: 5 }];
  assert.deepEqual(Array.from(allocate(cells, 100, () => 1)), [10, 20, 5]);
  assert.deepEqual(Array.from(allocate(cells, 100, (i) => (i === 1 ? 0 : 1))), [10, 0, 5]);
});

test('past the budget, near cells are denser and the sum stays within it', () => {
  let seed = 3;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const cells = Array.from({ length: 500 }, () => ({ total: 1 + Math.floor(rand() * 2000) }));
  const dist = cells.map(() => 1 + rand() * 100);
  const seen = cells.map(() => rand() > 0.3);
  const budget = 50000;
  const want = allocate(cells, budget, (i) => (seen[i] ? 1 / dist[i] : 0));
  let sum = 0;
  for (let i = 0; i < cells.length; i++) {
    sum += want[i];
    assert.ok(want[i] <= cells[i].total);
    if (!seen[i]) assert.equal(want[i], 0);
  }
  assert.ok(sum <= budget && sum > budget - cells.length, `sum ${sum}`);
  // Density (drawn / total) falls with distance among cells that are not full.
  // (Within the rounding down of the nearer cell: 1 / its total.)
  const dens = cells
    .map((c, i) => [dist[i], want[i] / c.total, c.total])
    .filter((_, i) => seen[i] && want[i] < cells[i].total);
  dens.sort((a, b) => a[0] - b[0]);
  assert.ok(dens.length > 100);
  for (let k = 1; k < dens.length; k++) assert.ok(dens[k][1] <= dens[k - 1][1] + 1 / dens[k - 1][2] + 1e-12);
  assert.ok(dens[0][1] > 4 * dens[dens.length - 1][1], 'near cells are much denser than far ones');
});
