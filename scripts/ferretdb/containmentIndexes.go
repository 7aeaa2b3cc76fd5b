package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FerretDB v1's PostgreSQL handler sends an equality filter to PostgreSQL as
// `_jsonb->'field' @> $1`, but indexes a field as a btree on ((_jsonb->'field')), which `@>`
// cannot use: every GridFS chunk lookup by files_id scans the whole chunks table, and gets
// slower as the store fills. containmentIndexes adds, beside each index FerretDB made, a GIN
// index (jsonb_path_ops) on the same leading field, which `@>` can use.
//
// FerretDB also sends the value as a bind parameter; after five executions PostgreSQL may
// switch to a generic plan that cannot match the index expression, so the database is set to
// plan_cache_mode = force_custom_plan.
//
// Tuning for the local store only: MongoDB plans its own indexes, and none of this reaches it.

// indexedFields lists, per FerretDB table, the leading field of each index FerretDB created,
// read from FerretDB's own metadata (sjson: the key order of an index's "key" document is in
// its schema, "$s" → "$k").
const indexedFields = `
SELECT m._jsonb->>'table' AS table_name, s.value->'$s'->'p'->'key'->'$s'->'$k'->>0 AS field
FROM %s m,
     jsonb_array_elements(m._jsonb->'$s'->'p'->'indexes'->'i') AS s
WHERE s.value->'$s'->'p'->'key'->'$s'->'$k'->>0 IS NOT NULL`

type containmentIndexes struct {
	pool    *pgxpool.Pool
	logger  *slog.Logger
	mu      sync.Mutex
	pending bool
}

func newContainmentIndexes(ctx context.Context, url string, logger *slog.Logger) (*containmentIndexes, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, err
	}
	var database string
	if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&database); err != nil {
		pool.Close()
		return nil, err
	}
	// For FerretDB's connections, which open after this: custom plans keep the index usable.
	q := fmt.Sprintf(`ALTER DATABASE %s SET plan_cache_mode = force_custom_plan`, pgx.Identifier{database}.Sanitize())
	if _, err := pool.Exec(ctx, q); err != nil {
		pool.Close()
		return nil, err
	}
	return &containmentIndexes{pool: pool, logger: logger}, nil
}

// ensure adds the missing GIN indexes in every FerretDB database (a PostgreSQL schema).
func (c *containmentIndexes) ensure(ctx context.Context) error {
	rows, err := c.pool.Query(ctx,
		`SELECT table_schema FROM information_schema.tables WHERE table_name = '_ferretdb_database_metadata'`)
	if err != nil {
		return err
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, schema := range schemas {
		metadata := pgx.Identifier{schema, "_ferretdb_database_metadata"}.Sanitize()
		rows, err := c.pool.Query(ctx, fmt.Sprintf(indexedFields, metadata))
		if err != nil {
			return err
		}
		type indexed struct{ Table, Field string }
		found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[indexed])
		if err != nil {
			return err
		}
		for _, index := range found {
			h := fnv.New32a()
			h.Write([]byte(index.Table + "\x00" + index.Field))
			name := fmt.Sprintf("reelflux_gin_%08x", h.Sum32())
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((_jsonb->%s) jsonb_path_ops)`,
				pgx.Identifier{name}.Sanitize(),
				pgx.Identifier{schema, index.Table}.Sanitize(),
				quoteLiteral(index.Field))
			if _, err := c.pool.Exec(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

// soon runs ensure shortly after FerretDB created an index, once for a burst of them.
func (c *containmentIndexes) soon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending {
		return
	}
	c.pending = true
	time.AfterFunc(200*time.Millisecond, func() {
		c.mu.Lock()
		c.pending = false
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.ensure(ctx); err != nil {
			c.logger.Warn("containment indexes not made", "error", err)
		}
	})
}

func quoteLiteral(s string) string {
	quoted := []byte{'\''}
	for _, b := range []byte(s) {
		if b == '\'' {
			quoted = append(quoted, '\'')
		}
		quoted = append(quoted, b)
	}
	return string(append(quoted, '\''))
}
