package main

import (
	"context"
	"log/slog"
	"strings"
)

// quietDuplicates drops the one error FerretDB's PostgreSQL backend logs for a query that
// did what it should: an INSERT refused by a unique index (SQLSTATE 23505). The client gets
// duplicate key error 11000 and handles it (a racing sign-up, a rate window made by another
// replica first); logged as an error, it would fill `npm start`'s output at every race.
type quietDuplicates struct{ slog.Handler }

func (q quietDuplicates) Handle(ctx context.Context, record slog.Record) error {
	duplicate := false
	record.Attrs(func(attr slog.Attr) bool {
		if attr.Key == "err" && strings.Contains(attr.Value.String(), "SQLSTATE 23505") {
			duplicate = true
			return false
		}
		return true
	})
	if duplicate {
		return nil
	}
	return q.Handler.Handle(ctx, record)
}

func (q quietDuplicates) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietDuplicates{q.Handler.WithAttrs(attrs)}
}

func (q quietDuplicates) WithGroup(name string) slog.Handler {
	return quietDuplicates{q.Handler.WithGroup(name)}
}
