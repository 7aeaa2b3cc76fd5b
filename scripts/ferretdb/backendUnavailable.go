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
// errors, and PostgreSQL's SQLSTATE classes 08 (connection exception) and 57P (operator
// intervention: shutdown, crash recovery, "the database system is starting up"; not 57014, a
// cancelled query).
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
func unavailableReply(reply *message) (rewritten *message) {
	// The wire package can panic on a malformed message; one we cannot read goes on unchanged.
	defer func() {
		if recover() != nil {
			rewritten = nil
		}
	}()
	if reply.opCode != opMsg || len(reply.raw) > maxErrorReplyBytes {
		return nil
	}
	var msg wire.OpMsg
	if err := msg.UnmarshalBinaryNocopy(reply.raw[headerBytes:]); err != nil {
		return nil
	}
	section := msg.RawSection0()
	if section == nil {
		return nil
	}
	doc, err := section.Decode()
	if err != nil {
		return nil
	}
	// Only whole-command errors: FerretDB v1.24 answers a write the backend failed that way too,
	// and a writeErrors entry beside ok: 1 may follow documents already written.
	errmsg := backendErrorMessage(doc)
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
	raw := make([]byte, headerBytes, headerBytes+len(out))
	copy(raw, reply.raw[:headerBytes])
	binary.LittleEndian.PutUint32(raw[0:4], uint32(headerBytes+len(out)))
	raw = append(raw, out...)
	return &message{raw: raw, requestID: reply.requestID, responseTo: reply.responseTo, opCode: opMsg}
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
