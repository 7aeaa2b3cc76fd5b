package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FerretDB v1's PostgreSQL handler sends an equality filter to PostgreSQL as
// `_jsonb->'field' @> $1`, but indexes a field as a btree on ((_jsonb->'field')), which `@>`
// cannot use: every GridFS chunk lookup by files_id scans the whole chunks table, and gets
// slower as the store fills. containmentIndexes adds, beside each index FerretDB made, a GIN
// index (jsonb_path_ops) on the same fields, which `@>` can use: a chunk by {files_id, n} is
// then found through the index alone.
//
// Two database settings go with it. FerretDB sends the field name as a bind parameter
// (`_jsonb->$1`); after five executions PostgreSQL may switch to a generic plan, which cannot
// match that to the index expression, so plan_cache_mode = force_custom_plan. And the planner
// prices a scan of a small table as cheap, not counting that each row's document must be
// de-TOASTed (a 255 KiB chunk) to read one field: measured, a scan of 650 chunks took 52 ms
// where the index took 6, so enable_seqscan = off makes it take an index whenever one applies.
//
// Tuning for the local store only: MongoDB plans its own indexes, and none of this reaches it.

// indexedFields lists, per FerretDB table, the fields of each index FerretDB created, in order,
// read from FerretDB's own metadata (sjson: the key order of an index's "key" document is in
// its schema, "$s" → "$k").
const indexedFields = `
SELECT m._jsonb->>'table',
       array(SELECT f FROM jsonb_array_elements_text(s.value->'$s'->'p'->'key'->'$s'->'$k')
             WITH ORDINALITY AS k(f, i) ORDER BY i)
FROM %s m,
     jsonb_array_elements(m._jsonb->'$s'->'p'->'indexes'->'i') AS s`

type containmentIndexes struct {
	pool    *pgxpool.Pool
	logger  *slog.Logger
	mu      sync.Mutex
	pending bool
	// One ensure at a time: two CREATE INDEX IF NOT EXISTS of the same index can collide.
	running sync.Mutex
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
	// For FerretDB's connections, which open after this.
	for _, setting := range []string{"plan_cache_mode = force_custom_plan", "enable_seqscan = off"} {
		q := fmt.Sprintf(`ALTER DATABASE %s SET %s`, pgx.Identifier{database}.Sanitize(), setting)
		if _, err := pool.Exec(ctx, q); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return &containmentIndexes{pool: pool, logger: logger}, nil
}

// ensure adds the missing GIN indexes in every FerretDB database (a PostgreSQL schema), and
// gives its GridFS chunk tables EXTERNAL storage (chunkStorage.go).
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
	var storage []error // kept apart, so that a failure there does not cost the indexes
	for _, schema := range schemas {
		storage = append(storage, c.externalChunkStorage(ctx, schema))
		metadata := pgx.Identifier{schema, "_ferretdb_database_metadata"}.Sanitize()
		rows, err := c.pool.Query(ctx, fmt.Sprintf(indexedFields, metadata))
		if err != nil {
			return err
		}
		type indexed struct {
			Table  string
			Fields []string
		}
		found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[indexed])
		if err != nil {
			return err
		}
		for _, index := range found {
			if len(index.Fields) == 0 {
				continue
			}
			h := fnv.New32a()
			h.Write([]byte(index.Table + "\x00" + strings.Join(index.Fields, "\x00")))
			name := fmt.Sprintf("reelflux_gin_%08x", h.Sum32())
			columns := make([]string, len(index.Fields))
			for i, field := range index.Fields {
				columns[i] = fieldExpression(field) + " jsonb_path_ops"
			}
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING gin (%s)`,
				pgx.Identifier{name}.Sanitize(),
				pgx.Identifier{schema, index.Table}.Sanitize(),
				strings.Join(columns, ", "))
			if _, err := c.pool.Exec(ctx, q); err != nil {
				return err
			}
		}
	}
	return errors.Join(storage...)
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
		c.running.Lock()
		defer c.running.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.ensure(ctx); err != nil {
			c.logger.Warn("containment indexes not made", "error", err)
		}
	})
}

// fieldExpression is the expression FerretDB filters `field` by: `_jsonb->'f'`, or for a dotted
// path `_jsonb#>'{a,b}'` (query.go in FerretDB's PostgreSQL backend).
func fieldExpression(field string) string {
	if strings.Contains(field, ".") {
		return fmt.Sprintf("(_jsonb#>%s)", quoteLiteral("{"+strings.ReplaceAll(field, ".", ",")+"}"))
	}
	return fmt.Sprintf("(_jsonb->%s)", quoteLiteral(field))
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
