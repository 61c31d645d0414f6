// The served view's query box takes TensorQL or plain language. Text whose first word
// starts no TensorQL statement is a question about the map: the page asks the server's
// command model for the statement (`EXPLAIN ASK map 'text'`, docs/ask.md), shows it, and
// runs it when the model is confident, so the rows ringed are the statement's own.

/** The words a TensorQL statement starts with (docs/LANGUAGE.md). */
const STATEMENT_WORDS = new Set([
  'alter', 'ask', 'begin', 'commit', 'copy', 'create', 'delete', 'drop', 'explain',
  'insert', 'load', 'render', 'rollback', 'save', 'select', 'show', 'snapshot', 'train',
  'update', 'values', 'with',
]);

/** Whether `text` is TensorQL (its first word starts a statement, or it opens with `(`,
 * a comment or `.`, as the shell's commands do); otherwise it is a question for ASK. */
export function isTensorQL(text) {
  const t = String(text).trim();
  if (!t) return true;
  if (t.startsWith('(') || t.startsWith('--') || t.startsWith('.')) return true;
  const m = /^[A-Za-z_]+/.exec(t);
  if (!m) return false;
  // `select` alone is TensorQL typed half-way: the parser's error says more than ASK would.
  return STATEMENT_WORDS.has(m[0].toLowerCase());
}

/** `s` as a TensorQL string: single quotes, a quote doubled. */
export function tqlString(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

/** A map name as TensorQL writes it: bare when it is a plain identifier that is no
 * statement word, else in double quotes (a quote doubled). */
export function tqlName(name) {
  const n = String(name);
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !STATEMENT_WORDS.has(n.toLowerCase())) return n;
  return `"${n.replace(/"/g, '""')}"`;
}

/** The statement that asks the command model about `map`, running nothing. */
export function explainAsk(map, text) {
  return `EXPLAIN ASK ${tqlName(map)} ${tqlString(text)}`;
}

/** What `EXPLAIN ASK`'s answer (the server's JSON for `POST /query`) says: the statement,
 * its probability, the outcome, the model; `null` when the answer has no such row. */
export function readExplained(answer) {
  const results = (answer && answer.results) || [];
  const last = results[results.length - 1];
  const row = last && last.rows && last.rows[0];
  if (!row || typeof row.statement !== 'string') return null;
  return {
    statement: row.statement,
    probability: Number(row.probability),
    outcome: String(row.outcome),
    threshold: Number(row.threshold),
    model: String(row.model),
  };
}

/** The status line of an answered question. */
export function askedStatus(asked, ran) {
  const p = Number.isFinite(asked.probability) ? asked.probability.toFixed(2) : '?';
  if (asked.outcome !== 'answer') {
    return `not run (${asked.outcome}, probability ${p}): best guess shown`;
  }
  return `${ran.status} · ${ran.positions.length / 3} ringed · probability ${p}`;
}
