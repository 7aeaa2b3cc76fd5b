package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// A GridFS chunk reaches PostgreSQL as a JSON document whose data is a base64 string of up to
// 340 KiB. PostgreSQL's default storage for the column (EXTENDED) tries to compress every such
// value before moving it out of line; random-looking media does not compress, so each insert
// pays for a compression attempt that is thrown away. EXTERNAL keeps the out-of-line storage
// and skips the attempt: `npm run bench:chunk-storage` measures writes through the driver 1.46
// times as fast and reads 1.23 times (docs/benchmarks.md). It changes how new rows are stored
// only, and takes a brief lock, so it is set once per table, when it is not yet.
//
// Only chunk tables: other collections hold small documents that are worth compressing.

// chunkTables lists the tables of a FerretDB database's GridFS chunk collections, with their
// document column's storage ('x' extended, 'e' external).
const chunkTables = `
SELECT m._jsonb->>'table', a.attstorage::text
FROM %s m
JOIN pg_namespace n ON n.nspname = $1
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = m._jsonb->>'table'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_jsonb'
WHERE m._jsonb->>'_id' LIKE '%%.chunks'`

// externalChunkStorage sets the chunk tables of FerretDB database `schema` to EXTERNAL storage.
func (c *containmentIndexes) externalChunkStorage(ctx context.Context, schema string) error {
	metadata := pgx.Identifier{schema, "_ferretdb_database_metadata"}.Sanitize()
	rows, err := c.pool.Query(ctx, fmt.Sprintf(chunkTables, metadata), schema)
	if err != nil {
		return err
	}
	type table struct {
		Name    string
		Storage string
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[table])
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Storage == "e" {
			continue
		}
		q := fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN _jsonb SET STORAGE EXTERNAL`,
			pgx.Identifier{schema, t.Name}.Sanitize())
		if _, err := c.pool.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
