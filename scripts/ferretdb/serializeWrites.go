package main

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
)

// FerretDB v1 applies update and findAndModify by reading the document, changing it in Go
// and writing it back, outside any transaction (FerretDB issue #3040). Two writers on one
// document interleave and one update is lost: measured here, 50 concurrent $inc ended at 10
// and a compare-and-set let 3 of 10 racers win. MongoDB makes single-document writes atomic,
// and REELFLUX relies on that (conversion state changes, login failure counters).
//
// serveSerialized restores it for the local default: a relay in front of FerretDB that lets
// reads through freely but holds one lock from each write command's request to its reply.
// On PostgreSQL, inserts pass freely too: a new document is one INSERT there, its unique
// indexes are PostgreSQL's, and uploads in parallel then write their chunks in parallel
// (measured: four 20 MB uploads at once, 24.8 MB/s serialized, 41.9 MB/s not). SQLite has a
// single writer anyway, so there everything stays in line.

// writeCommands are the commands that change data; their first BSON key names them.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true,
	"create": true, "createIndexes": true, "dropIndexes": true, "drop": true, "dropDatabase": true,
}

const (
	opMsg       = 2013
	headerBytes = 16
	maxMessage  = 256 * 1024 * 1024
)

type message struct {
	raw        []byte
	requestID  int32
	responseTo int32
	opCode     int32
}

func readMessage(r io.Reader) (*message, error) {
	header := make([]byte, headerBytes)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	length := int32(binary.LittleEndian.Uint32(header[0:4]))
	if length < headerBytes || length > maxMessage {
		return nil, errors.New("bad wire message length")
	}
	raw := make([]byte, length)
	copy(raw, header)
	if _, err := io.ReadFull(r, raw[headerBytes:]); err != nil {
		return nil, err
	}
	return &message{
		raw:        raw,
		requestID:  int32(binary.LittleEndian.Uint32(header[4:8])),
		responseTo: int32(binary.LittleEndian.Uint32(header[8:12])),
		opCode:     int32(binary.LittleEndian.Uint32(header[12:16])),
	}, nil
}

// commandName is the first key of an OP_MSG body section: flags (4), kind 0 (1), BSON
// length (4), element type (1), then the key as a C string.
func commandName(m *message) string {
	body := m.raw[headerBytes:]
	if m.opCode != opMsg || len(body) < 10 || body[4] != 0 {
		return ""
	}
	key := body[10:]
	for i, b := range key {
		if b == 0 {
			return string(key[:i])
		}
	}
	return ""
}

// serveSerialized accepts clients on listener and relays each to upstream (FerretDB).
// afterCreateIndexes, if set, runs once FerretDB has answered a createIndexes command.
func serveSerialized(listener net.Listener, dialUpstream func() (net.Conn, error), logger *slog.Logger, serializeInserts bool, afterCreateIndexes func()) {
	var writes sync.Mutex
	for {
		client, err := listener.Accept()
		if err != nil {
			return
		}
		go relay(client, dialUpstream, &writes, logger, serializeInserts, afterCreateIndexes)
	}
}

func relay(client net.Conn, dialUpstream func() (net.Conn, error), writes *sync.Mutex, logger *slog.Logger, serializeInserts bool, afterCreateIndexes func()) {
	defer client.Close()
	upstream, err := dialUpstream()
	if err != nil {
		logger.Error("cannot reach ferretdb", "error", err)
		return
	}
	defer upstream.Close()

	// The request id of the write holding the lock, if this connection holds it.
	var mu sync.Mutex
	var pending int32
	var pendingCommand string
	holding := false
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		if holding {
			holding = false
			writes.Unlock()
		}
	}
	defer release()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			reply, err := readMessage(upstream)
			if err != nil {
				client.Close()
				return
			}
			if rewritten := unavailableReply(reply); rewritten != nil {
				reply = rewritten
			}
			if _, err := client.Write(reply.raw); err != nil {
				return
			}
			mu.Lock()
			isPending := holding && reply.responseTo == pending
			command := pendingCommand
			mu.Unlock()
			if isPending {
				release()
				if command == "createIndexes" && afterCreateIndexes != nil {
					afterCreateIndexes()
				}
			}
		}
	}()

	for {
		request, err := readMessage(client)
		if err != nil {
			break
		}
		if name := commandName(request); writeCommands[name] && (serializeInserts || name != "insert") {
			writes.Lock()
			mu.Lock()
			holding, pending, pendingCommand = true, request.requestID, name
			mu.Unlock()
		}
		if _, err := upstream.Write(request.raw); err != nil {
			break
		}
	}
	upstream.Close()
	<-done
}
