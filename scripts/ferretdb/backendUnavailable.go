package main

import (
	"encoding/binary"
	"strings"

	"github.com/FerretDB/wire"
	"github.com/FerretDB/wire/wirebson"
)

// When PostgreSQL goes away (a restart, a crash, a lost network), FerretDB answers every
// command with InternalError (code 1) and pgx's message. A MongoDB driver cannot tell that from
// a bug, so REELFLUX would answer INTERNAL_SERVER_ERROR and the worker would spend a retry for
// what is an outage. unavailableReply rewrites such a reply as HostUnreachable (code 6), one of
// the codes MongoDB itself answers with while a member it needs is unreachable; REELFLUX then
// says SERVICE_UNAVAILABLE and hands jobs back, as it does when the database itself is down.

const (
	internalErrorCode   = 1
	hostUnreachableCode = 6
	// Error replies are a few hundred bytes; larger replies carry data and are passed unread.
	maxErrorReplyBytes = 16 * 1024
)

// backendGone are the marks a lost PostgreSQL connection leaves in pgx's messages: Go's network
// errors, and PostgreSQL's SQLSTATE classes 08 (connection exception) and 57 (operator
// intervention: shutdown, crash recovery, "the database system is starting up").
var backendGone = []string{
	"failed to connect to",
	"unexpected EOF",
	"conn closed",
	"connection reset by peer",
	"broken pipe",
	"(SQLSTATE 08",
	"(SQLSTATE 57P",
}

// unavailableReply is the reply to send instead of reply, or nil to send reply as it is.
func unavailableReply(reply *message) *message {
	if reply.opCode != opMsg || len(reply.raw) > maxErrorReplyBytes {
		return nil
	}
	var msg wire.OpMsg
	if err := msg.UnmarshalBinaryNocopy(reply.raw[headerBytes:]); err != nil {
		return nil
	}
	raw := msg.RawSection0()
	if raw == nil {
		return nil
	}
	doc, err := raw.Decode()
	if err != nil {
		return nil
	}
	errmsg := backendErrorMessage(doc)
	if errmsg == "" {
		// A write's errors come as writeErrors beside ok: 1.
		if writeErrors, ok := doc.Get("writeErrors").(wirebson.RawArray); ok {
			if errors, err := writeErrors.Decode(); err == nil && errors.Len() > 0 {
				if first, ok := errors.Get(0).(wirebson.RawDocument); ok {
					if firstDoc, err := first.Decode(); err == nil {
						errmsg = backendErrorMessage(firstDoc)
					}
				}
			}
		}
	}
	if errmsg == "" {
		return nil
	}
	out, err := wire.MustOpMsg(
		"ok", float64(0),
		"errmsg", "FerretDB's PostgreSQL is unreachable: "+errmsg,
		"code", int32(hostUnreachableCode),
		"codeName", "HostUnreachable",
	).MarshalBinary()
	if err != nil {
		return nil
	}
	rewritten := make([]byte, headerBytes, headerBytes+len(out))
	copy(rewritten, reply.raw[:headerBytes])
	binary.LittleEndian.PutUint32(rewritten[0:4], uint32(headerBytes+len(out)))
	rewritten = append(rewritten, out...)
	return &message{raw: rewritten, requestID: reply.requestID, responseTo: reply.responseTo, opCode: opMsg}
}

// backendErrorMessage is doc's errmsg if doc is an InternalError left by a lost connection.
func backendErrorMessage(doc *wirebson.Document) string {
	code, _ := doc.Get("code").(int32)
	errmsg, _ := doc.Get("errmsg").(string)
	if code != internalErrorCode {
		return ""
	}
	for _, mark := range backendGone {
		if strings.Contains(errmsg, mark) {
			return errmsg
		}
	}
	return ""
}
