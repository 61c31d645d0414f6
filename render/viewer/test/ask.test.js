// The query box's plain language: what is TensorQL, how a question becomes EXPLAIN ASK, and
// the served source's ask (EXPLAIN ASK, then the statement when the model is confident).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { askedStatus, explainAsk, isTensorQL, readExplained, tqlName } from '../src/ask.js';
import { ServedSource } from '../src/served.js';

test('statements are TensorQL, everything else is a question', () => {
  for (const t of [
    'SELECT * FROM scene',
    '  select count(*) from scene;',
    'With t AS (SELECT 1) SELECT * FROM t',
    'EXPLAIN ASK scene \'cubes\'',
    'show maps',
    '(SELECT 1)',
    '-- a comment',
    '',
  ]) {
    assert.equal(isTensorQL(t), true, t);
  }
  for (const t of [
    'find all cubes within 200 units of center',
    'how many spheres are there?',
    'the 5 objects nearest to 0,0,0',
    'Selected cubes please',
    '¿cuántos cubos hay?',
    '5 nearest cubes',
  ]) {
    assert.equal(isTensorQL(t), false, t);
  }
});

test('a question becomes EXPLAIN ASK with its quotes doubled and the map quoted when needed', () => {
  assert.equal(explainAsk('scene', "the cubes' radius"), "EXPLAIN ASK scene 'the cubes'' radius'");
  assert.equal(tqlName('a/b c'), '"a/b c"');
  assert.equal(tqlName('select'), '"select"');
  assert.equal(tqlName('say "hi"'), '"say ""hi"""');
  assert.equal(tqlName('demo_2'), 'demo_2');
});

/** A server that answers EXPLAIN ASK with `explained` and any other statement with rows. */
function fakeApi(explained, log) {
  return {
    async query(sql) {
      log.push(sql);
      if (sql.startsWith('EXPLAIN ASK')) return { results: [{ status: 'EXPLAIN ASK', rows: [explained] }] };
      return {
        results: [{ status: 'SELECT 2', rows: [{ id: 'a', position: [1, 2, 3] }, { id: 'b', position: [4, 5, 6] }] }],
      };
    },
  };
}

test('a confident answer runs the statement the model wrote; an unsure one runs nothing', async () => {
  const statement = "SELECT * FROM scene WHERE type = 'cube'";
  const sure = { statement, probability: 0.97, outcome: 'answer', threshold: 0.5, model: 'built-in' };
  const log = [];
  const source = new ServedSource(fakeApi(sure, log), 'scene');
  const { asked, ran } = await source.ask('all the cubes');
  assert.deepEqual(log, ["EXPLAIN ASK scene 'all the cubes'", statement]);
  assert.equal(asked.statement, statement);
  assert.deepEqual(ran.positions, [1, 2, 3, 4, 5, 6]);
  assert.equal(askedStatus(asked, ran), 'SELECT 2 · 2 ringed · probability 0.97');

  const unsure = { ...sure, probability: 0.3, outcome: 'not sure' };
  const log2 = [];
  const r = await new ServedSource(fakeApi(unsure, log2), 'scene').ask('cubes maybe');
  assert.equal(log2.length, 1);
  assert.equal(r.ran, null);
  assert.equal(askedStatus(r.asked, r.ran), 'not run (not sure, probability 0.30): best guess shown');
  assert.equal(readExplained({ results: [{ rows: [] }] }), null);
});
