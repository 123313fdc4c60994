import { createHash } from 'node:crypto'
import type { TableNames } from './schema.js'

/** A prepared (named) statement: parsed and planned once per connection, then only bound and executed. */
export interface Statement {
  readonly name: string
  readonly text: string
}

// bytea as hex text whatever the server's `bytea_output` setting.
const COLUMNS = "epoch, seq, sender, ts, data::text AS data, encode(bytes, 'hex') AS bytes"

function statement(key: string, text: string): Statement {
  // The name covers the text: two stores on one pool with different schemas get different statements, and node-postgres
  // refuses one name for two texts.
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12)
  return { name: `parley_history_${key}_${hash}`, text: text.replace(/\s+/g, ' ').trim() }
}

/** Every query the store runs on its hot paths, for the tables of one schema. */
export function statementsFor(t: TableNames) {
  return {
    /** $1 rooms, $2 epochs → the ordinals known of those pairs. */
    lookupEpochs: statement(
      'lookup_epochs',
      `SELECT e.room, e.epoch, e.ordinal FROM ${t.epochs} e
       JOIN unnest($1::text[], $2::text[]) AS wanted(room, epoch) ON e.room = wanted.room AND e.epoch = wanted.epoch`,
    ),
    /**
     * $1 room, $2 epoch → the ordinal given to a new epoch: one more than the room's highest. Two nodes registering
     * two new epochs of a room at once compute the same ordinal and one of them fails on the (room, ordinal) unique
     * constraint, then tries again; two registering the same epoch at once: the second inserts nothing.
     */
    registerEpoch: statement(
      'register_epoch',
      `INSERT INTO ${t.epochs} (room, epoch, ordinal)
       SELECT $1, $2, COALESCE(max(ordinal) + 1, 0) FROM ${t.epochs} WHERE room = $1
       ON CONFLICT (room, epoch) DO NOTHING
       RETURNING ordinal`,
    ),
    /** $1 room, $2 epoch → its ordinal. */
    ordinalOf: statement('ordinal_of', `SELECT ordinal FROM ${t.epochs} WHERE room = $1 AND epoch = $2`),
    /**
     * One statement for any batch size: the batch as parallel arrays. A message stored already (same room, epoch and
     * so ordinal, and seq) is skipped.
     */
    insert: statement(
      'insert',
      `INSERT INTO ${t.messages} (room, ordinal, seq, epoch, sender, ts, data, search_text, bytes)
       SELECT room, ordinal, seq, epoch, sender, ts, data::json, search_text, bytes
       FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::bytea[])
         AS batch(room, ordinal, seq, epoch, sender, ts, data, search_text, bytes)
       ON CONFLICT DO NOTHING`,
    ),
    /** $1 room, $2 limit → the newest messages, newest first. */
    newest: statement('newest', `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 ORDER BY ordinal DESC, seq DESC LIMIT $2`),
    /** $1 room, ($2 ordinal, $3 seq) position, $4 limit → the messages before it, newest first. */
    before: statement(
      'before',
      `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 AND (ordinal, seq) < ($2::int, $3::bigint)
       ORDER BY ordinal DESC, seq DESC LIMIT $4`,
    ),
    /** $1 room, ($2 ordinal, $3 seq) position, $4 limit → the messages after it, oldest first. */
    after: statement(
      'after',
      `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 AND (ordinal, seq) > ($2::int, $3::bigint)
       ORDER BY ordinal, seq LIMIT $4`,
    ),
    /**
     * $1 room, ($2 ordinal, $3 seq) position, $4 n → the position of the (n + 1)-th newest message before it: an
     * index-only walk of n entries. Where pruning by count cuts, and where the recent window of a search ends.
     */
    nthBefore: statement(
      'nth_before',
      `SELECT ordinal, seq FROM ${t.messages} WHERE room = $1 AND (ordinal, seq) < ($2::int, $3::bigint)
       ORDER BY ordinal DESC, seq DESC OFFSET $4 LIMIT 1`,
    ),
    /**
     * Search, first step: $1 room, $2 search configuration, $3 the user's text, ($4 ordinal, $5 seq) position, $6
     * window, $7 limit → the newest matches among the `window` newest messages before the position (newest first),
     * then one row without `epoch` holding where that window ends: the position of the next older message, if any.
     * One statement, so both parts see the same snapshot. Cheap whatever the room's size, and enough for any word that
     * is not rare. A query without any word (empty, punctuation, only stop words) matches nothing.
     */
    searchRecent: statement(
      'search_recent',
      `(SELECT w.epoch, w.seq, w.sender, w.ts, w.data::text AS data, encode(w.bytes, 'hex') AS bytes, w.ordinal
        FROM (
          SELECT ordinal, seq, epoch, sender, ts, data, bytes, search FROM ${t.messages}
          WHERE room = $1 AND (ordinal, seq) < ($4::int, $5::bigint) ORDER BY ordinal DESC, seq DESC LIMIT $6
        ) AS w, websearch_to_tsquery($2::regconfig, $3::text) AS q
        WHERE numnode(q) > 0 AND w.search @@ q
        ORDER BY w.ordinal DESC, w.seq DESC LIMIT $7)
       UNION ALL
       (SELECT NULL, seq, NULL, NULL, NULL, NULL, ordinal FROM ${t.messages}
        WHERE room = $1 AND (ordinal, seq) < ($4::int, $5::bigint) ORDER BY ordinal DESC, seq DESC OFFSET $6 LIMIT 1)`,
    ),
    /**
     * Search, second step, when the recent window had too few matches (a rare word): $1 room, $2 search configuration,
     * $3 the user's text, ($4 ordinal, $5 seq) position, $6 limit → the newest matches at or before the position,
     * newest first, found through the full-text index alone. Left alone, the planner would walk the whole room
     * backwards hoping for a match soon, or (with the generic plan of a prepared statement) AND the index's matches
     * with a bitmap of the room's every primary key entry: `room || ''` keeps the primary key out of this scan.
     */
    searchOlder: statement(
      'search_older',
      `WITH hits AS MATERIALIZED (
         SELECT ordinal, seq FROM ${t.messages}, websearch_to_tsquery($2::regconfig, $3::text) AS q
         WHERE room || '' = $1 AND numnode(q) > 0 AND search @@ q AND (ordinal, seq) <= ($4::int, $5::bigint)
       )
       SELECT m.epoch, m.seq, m.sender, m.ts, m.data::text AS data, encode(m.bytes, 'hex') AS bytes
       FROM (SELECT ordinal, seq FROM hits ORDER BY ordinal DESC, seq DESC LIMIT $6) AS top
       JOIN ${t.messages} m ON m.room = $1 AND m.ordinal = top.ordinal AND m.seq = top.seq
       ORDER BY m.ordinal DESC, m.seq DESC`,
    ),
    /**
     * $1 room, ($2 ordinal, $3 seq) cut, $4 slice → removes up to 2 × $4 messages at or before the cut, oldest first.
     * Each part is an index range with plain bounds (PostgreSQL before 18 does not stop a scan at a row comparison's
     * end, so `(ordinal, seq) <= cut` would walk the rest of the epoch, or the planner would scan the table).
     */
    pruneRoom: statement(
      'prune_room',
      `DELETE FROM ${t.messages} WHERE ctid = ANY(ARRAY(
         (SELECT ctid FROM ${t.messages} WHERE room = $1 AND ordinal < $2::int ORDER BY ordinal, seq LIMIT $4)
         UNION ALL
         (SELECT ctid FROM ${t.messages} WHERE room = $1 AND ordinal = $2::int AND seq <= $3::bigint ORDER BY ordinal, seq LIMIT $4)
       ))`,
    ),
    /**
     * $1 cutoff ts, $2 at most this many → removes up to $2 messages older than the cutoff, oldest first. In slices,
     * so one prune of a large backlog never holds one huge transaction. `ORDER BY ts` keeps it on the ts index, which
     * stops at the cutoff: the generic plan of the prepared statement would otherwise scan the table every time.
     */
    pruneAge: statement(
      'prune_age',
      `DELETE FROM ${t.messages} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${t.messages} WHERE ts < $1::float8 ORDER BY ts LIMIT $2))`,
    ),
    /** Every room the store has ever stored to. */
    rooms: statement('rooms', `SELECT DISTINCT room FROM ${t.epochs}`),
  } as const
}

export type Statements = ReturnType<typeof statementsFor>
