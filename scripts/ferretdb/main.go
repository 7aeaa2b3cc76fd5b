// Command ferretdb runs FerretDB v1 through its embeddable package.
//
// Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`? A binary built that
// way panics at start: FerretDB's build/version package requires a generated version.txt that
// module-proxy downloads do not contain, and it only checks when FerretDB itself is the main
// module. Embedding it from this tiny module runs the same handlers without that check.
// It also serializes write commands (serializeWrites.go): FerretDB v1 updates are not atomic;
// on PostgreSQL it adds indexes FerretDB's queries can use (containmentIndexes.go) and answers
// HostUnreachable while PostgreSQL is away (backendUnavailable.go).
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (sqlite handler)")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql handler)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("bad --log-level: %v", err)
	}
	logger := slog.New(quietDuplicates{slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	// FerretDB itself listens on a private socket; clients reach it through serveSerialized.
	socketDir, err := os.MkdirTemp("", "reelflux-ferretdb-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(socketDir)
	socket := filepath.Join(socketDir, "ferretdb.sock")

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{Unix: socket},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		<-ctx.Done()
		listener.Close()
	}()
	// On PostgreSQL, each index FerretDB makes gets one its queries can use (containmentIndexes.go).
	var afterCreateIndexes func()
	if *handler == "postgresql" {
		indexes, err := newContainmentIndexes(ctx, *postgresqlURL, logger)
		if err != nil {
			log.Fatalf("preparing PostgreSQL: %v", err)
		}
		afterCreateIndexes = indexes.soon
		indexes.soon() // for a store made before
	}
	serializeInserts := *handler != "postgresql"
	go serveSerialized(listener, func() (net.Conn, error) { return net.Dial("unix", socket) }, logger, serializeInserts, afterCreateIndexes)
	logger.Info("ferretdb listening", "addr", *listen, "handler", *handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
