"""``tensormap.spark.sql``'s statement check and merge: which TensorQL SELECTs give the
single database's answer when run on every partition and merged, and the merge.

A statement runs on each partition's rows as the map ``part``. Per row, hence exact once
the partitions' rows are put together: filters (``WHERE``, ``WITHIN``), projections,
``DISTINCT`` (deduplicated again after the merge). Merged here: ``ORDER BY`` (its keys must
be selected columns: by alias, by the expression as written, or by position) with
``LIMIT`` (each partition's first ``n`` hold the global first ``n``), and the aggregates
``COUNT``, ``SUM``, ``MIN``, ``MAX`` — a select item that is exactly one of them, with or
without ``GROUP BY`` (partials combined per group: counts and sums added, minima and maxima
taken). Refused: what no such merge makes exact.
"""

import re


class SparkQueryError(ValueError):
    """A statement ``tensormap.spark.sql`` cannot run exactly across partitions."""


AGGREGATES = ("COUNT", "SUM", "MIN", "MAX", "AVG")

REFUSED = {
    "AVG": "AVG is not merged across partitions: select SUM(e) and COUNT(e) and divide",
    "ATTENTION": "ATTENTION normalises over all rows: use tensormap.spark.attention",
    "HAVING": "HAVING is not merged across partitions: filter the merged table instead",
    "OFFSET": "OFFSET is not merged across partitions: use LIMIT n + m and drop m rows",
    "JOIN": "sql() runs on one map ('part'); use tensormap.spark.distance_join for joins",
    "VOXELS": "VOXELS reads the field, which a partition holds only part of",
}


class Plan:
    """A checked statement: what runs per partition and how the answers merge."""

    def __init__(self, statement, items, aggregates, grouped, distinct, order, limit):
        self.statement = statement  # what each partition runs
        self.items = items  # (expression, alias or None) per output column
        self.aggregates = aggregates  # per output column: None or COUNT/SUM/MIN/MAX
        self.grouped = grouped  # GROUP BY or an aggregate present
        self.distinct = distinct
        self.order = order  # [(expression text, descending)]
        self.limit = limit  # int or None


def _mask(text):
    """``text`` with string literals and comments blanked (same length), so that keywords
    and parentheses are found in code only."""
    out = list(text)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            j = i + 1
            while j < len(text):
                if text[j] == "'" and j + 1 < len(text) and text[j + 1] == "'":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            if j >= len(text):
                raise SparkQueryError("unterminated string literal in the statement")
            for k in range(i + 1, j):
                out[k] = "_"
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def _depths(masked):
    """The parenthesis depth at each character."""
    d, out = 0, []
    for ch in masked:
        if ch == "(":
            d += 1
        out.append(d)
        if ch == ")":
            d -= 1
    return out


def _top(masked, depth, pattern):
    """Matches of ``pattern`` (a regex, case-insensitive) at parenthesis depth 0."""
    return [m for m in re.finditer(pattern, masked, re.I) if depth[m.start()] == 0]


def _split(text, masked, depth, start, end):
    """``text[start:end]`` split at the commas of depth 0."""
    parts, at = [], start
    for i in range(start, end):
        if masked[i] == "," and depth[i] == 0:
            parts.append(text[at:i].strip())
            at = i + 1
    parts.append(text[at:end].strip())
    return [p for p in parts if p]


def _closing(masked, at):
    """The index of the parenthesis closing the one at ``at``."""
    d = 0
    for i in range(at, len(masked)):
        if masked[i] == "(":
            d += 1
        elif masked[i] == ")":
            d -= 1
            if d == 0:
                return i
    return -1


def _norm(expr):
    return re.sub(r"\s+", "", expr).upper()


def plan(statement):
    """Checks ``statement``; raises SparkQueryError for what cannot be merged exactly."""
    if not isinstance(statement, str):
        raise TypeError(f"the statement must be a str, found {type(statement).__name__}")
    text = statement.strip().rstrip(";").strip()
    masked = _mask(text)
    if ";" in masked:
        raise SparkQueryError("sql() runs one SELECT statement, found several")
    if not re.match(r"\s*SELECT\b", masked, re.I):
        raise SparkQueryError("sql() runs a SELECT statement (its map named 'part')")
    for word, why in REFUSED.items():
        if re.search(rf"\b{word}\b", masked, re.I):
            raise SparkQueryError(f"{word}: {why}")
    if re.search(r"\b(COUNT|SUM|MIN|MAX)\s*\(\s*DISTINCT\b", masked, re.I):
        raise SparkQueryError(
            "an aggregate of DISTINCT values is not merged across partitions "
            "(the same value may be counted in several)"
        )
    depth = _depths(masked)
    sel = _top(masked, depth, r"^\s*SELECT\s+(DISTINCT\s+)?")[0]
    distinct = bool(sel.group(1))
    clauses = {}
    for name, pattern in [
        ("FROM", r"\bFROM\b"),
        ("WHERE", r"\bWHERE\b"),
        ("GROUP", r"\bGROUP\s+BY\b"),
        ("ORDER", r"\bORDER\s+BY\b"),
        ("LIMIT", r"\bLIMIT\b"),
    ]:
        found = _top(masked, depth, pattern)
        if len(found) > 1:
            raise SparkQueryError(f"the statement has {name} twice")
        if found:
            clauses[name] = found[0]
    if "FROM" not in clauses:
        raise SparkQueryError("the statement must read FROM part")
    ends = sorted([m.start() for m in clauses.values()] + [len(text)])

    def body(name):
        m = clauses.get(name)
        if m is None:
            return None
        end = min(e for e in ends if e > m.start())
        return m.end(), end

    fs, fe = body("FROM")
    source = text[fs:fe].strip()
    if not re.fullmatch(r"part(\s+(AS\s+)?[A-Za-z_][A-Za-z0-9_]*)?", source, re.I) or "," in source:
        raise SparkQueryError(f"sql() reads one map named part, found FROM {source}")
    items = []
    for item in _split(text, masked, depth, sel.end(), clauses["FROM"].start()):
        m = re.search(r"\s+AS\s+([A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\")\s*$", item, re.I)
        if m and _depths(_mask(item))[m.start()] == 0:
            items.append((item[: m.start()].strip(), m.group(1).strip('"')))
        else:
            items.append((item, None))
    aggregates = []
    for expr, _ in items:
        inner = _mask(expr)
        calls = re.findall(r"\b(COUNT|SUM|MIN|MAX)\s*\(", inner, re.I)
        if not calls:
            aggregates.append(None)
            continue
        whole = re.match(r"\s*(COUNT|SUM|MIN|MAX)\s*\(", inner, re.I)
        if len(calls) != 1 or not whole or _closing(inner, whole.end() - 1) != len(inner.rstrip()) - 1:
            raise SparkQueryError(
                f"'{expr}': an expression around an aggregate is not merged across "
                "partitions; select the aggregate itself and compute on the merged table"
            )
        aggregates.append(whole.group(1).upper())
    grouped = "GROUP" in clauses or any(a is not None for a in aggregates)
    order = []
    if "ORDER" in clauses:
        os_, oe = body("ORDER")
        for key in _split(text, masked, depth, os_, oe):
            m = re.fullmatch(r"(.*?)(\s+(ASC|DESC))?", key, re.I | re.S)
            order.append((m.group(1).strip(), (m.group(3) or "").upper() == "DESC"))
    limit = None
    if "LIMIT" in clauses:
        ls, le = body("LIMIT")
        value = text[ls:le].strip()
        if not re.fullmatch(r"\d+", value):
            raise SparkQueryError(f"LIMIT must be a number in sql(), found '{value}'")
        limit = int(value)
    p = Plan(text, items, aggregates, grouped, distinct, order, limit)
    for expr, _ in order:
        _order_column(p, expr)
    if grouped and ("ORDER" in clauses or "LIMIT" in clauses):
        # Partial groups are ordered and cut after the merge, not before.
        first = min(clauses[c].start() for c in ("ORDER", "LIMIT") if c in clauses)
        p.statement = text[:first].rstrip()
    return p


def _order_column(p, expr):
    """The output column an ORDER BY key names."""
    if re.fullmatch(r"\d+", expr):
        i = int(expr) - 1
        if 0 <= i < len(p.items):
            return i
    for i, (e, alias) in enumerate(p.items):
        if alias is not None and alias.lower() == expr.strip('"').lower():
            return i
    for i, (e, _) in enumerate(p.items):
        if _norm(e) == _norm(expr):
            return i
    raise SparkQueryError(
        f"ORDER BY {expr}: the order is merged across partitions by selected columns only; "
        f"select it (… , {expr} AS k) and ORDER BY k"
    )


def _sort_key(value):
    # NULLs last; numbers before text; vectors compared as lists.
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float, bool)):
        return (0, float(value))
    return (1, value)


def _hashable(row):
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def merge(plan, tables, empty=None):
    """The partitions' tables merged into the answer (a pyarrow Table). ``empty`` is the
    statement's answer on an empty map (names and, for an ungrouped aggregate, its row),
    used when no partition had rows."""
    import pyarrow as pa

    tables = [t for t in tables if t.num_columns]
    if not tables:
        return empty if empty is not None else pa.table({})
    names = tables[0].column_names
    rows = []
    for t in tables:
        rows.extend(tuple(r.values()) for r in t.to_pylist())
    if plan.grouped and any(a is not None for a in plan.aggregates):
        groups = {}
        keys = [i for i, a in enumerate(plan.aggregates) if a is None]
        for r in rows:
            g = _hashable([r[i] for i in keys])
            if g not in groups:
                groups[g] = list(r)
                continue
            acc = groups[g]
            for i, a in enumerate(plan.aggregates):
                if a is None or r[i] is None:
                    continue
                if acc[i] is None:
                    acc[i] = r[i]
                elif a in ("COUNT", "SUM"):
                    acc[i] = acc[i] + r[i]
                elif a == "MIN":
                    acc[i] = min(acc[i], r[i])
                else:
                    acc[i] = max(acc[i], r[i])
        rows = [tuple(v) for v in groups.values()]
        if not plan.order:
            rows.sort(key=lambda r: tuple(_sort_key(r[i]) for i in keys))
    if plan.distinct:
        seen, kept = set(), []
        for r in rows:
            h = _hashable(r)
            if h not in seen:
                seen.add(h)
                kept.append(r)
        rows = kept
    if plan.order:
        id_at = names.index("id") if "id" in names else None
        if id_at is not None:
            rows.sort(key=lambda r: _sort_key(r[id_at]))
        for expr, desc in reversed(plan.order):
            i = _order_column(plan, expr)
            nulls = [r for r in rows if r[i] is None]
            vals = [r for r in rows if r[i] is not None]
            vals.sort(key=lambda r: _sort_key(r[i]), reverse=desc)
            rows = vals + nulls
    if plan.limit is not None:
        rows = rows[: plan.limit]
    schema = tables[0].schema
    columns = []
    for i, name in enumerate(names):
        values = [r[i] for r in rows]
        try:
            columns.append(pa.array(values, type=schema.field(i).type))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns.append(pa.array(values))
    return pa.table(columns, names=names)
