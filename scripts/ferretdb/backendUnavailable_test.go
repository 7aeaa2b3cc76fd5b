package main

import (
	"encoding/binary"
	"testing"

	"github.com/FerretDB/wire"
)

// opMsgReply is a reply as FerretDB sends it: a header answering request responseTo, one body.
func opMsgReply(t *testing.T, responseTo int32, pairs ...any) *message {
	t.Helper()
	body, err := wire.MustOpMsg(pairs...).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, headerBytes, headerBytes+len(body))
	binary.LittleEndian.PutUint32(raw[0:4], uint32(headerBytes+len(body)))
	binary.LittleEndian.PutUint32(raw[4:8], 7)
	binary.LittleEndian.PutUint32(raw[8:12], uint32(responseTo))
	binary.LittleEndian.PutUint32(raw[12:16], opMsg)
	return &message{raw: append(raw, body...), requestID: 7, responseTo: responseTo, opCode: opMsg}
}

func internalError(t *testing.T, errmsg string) *message {
	return opMsgReply(t, 42, "ok", float64(0), "errmsg", errmsg, "code", int32(1), "codeName", "InternalError")
}

func TestUnavailableReplyLeavesOtherRepliesAlone(t *testing.T) {
	for name, reply := range map[string]*message{
		"ok":                opMsgReply(t, 1, "ok", float64(1), "n", int32(1)),
		"another error":     internalError(t, "[msg_find.go:1] something else broke"),
		"a cancelled query": internalError(t, "ERROR: canceling statement due to user request (SQLSTATE 57014)"),
		"duplicate key": opMsgReply(t, 1, "ok", float64(0), "errmsg", "E11000 duplicate key",
			"code", int32(11000), "codeName", "DuplicateKey"),
	} {
		if got := unavailableReply(reply); got != nil {
			t.Errorf("%s: rewritten, want it passed on as it is", name)
		}
	}
}

func TestUnavailableReplyRewritesALostPostgreSQL(t *testing.T) {
	for _, errmsg := range []string{
		"[collection.go:109 postgresql.(*collection).Query] unexpected EOF",
		"failed to connect to `user=postgres database=reelflux`: connection refused",
		"FATAL: terminating connection due to administrator command (SQLSTATE 57P01)",
		"FATAL: the database system is starting up (SQLSTATE 57P03)",
	} {
		got := unavailableReply(internalError(t, errmsg))
		if got == nil {
			t.Fatalf("%q: passed on, want HostUnreachable", errmsg)
		}
		if int(binary.LittleEndian.Uint32(got.raw[0:4])) != len(got.raw) {
			t.Errorf("%q: header length %d, message %d bytes", errmsg, binary.LittleEndian.Uint32(got.raw[0:4]), len(got.raw))
		}
		if got.responseTo != 42 || int32(binary.LittleEndian.Uint32(got.raw[8:12])) != 42 {
			t.Errorf("%q: no longer answers request 42", errmsg)
		}
		var msg wire.OpMsg
		if err := msg.UnmarshalBinaryNocopy(got.raw[headerBytes:]); err != nil {
			t.Fatal(err)
		}
		doc, err := msg.RawSection0().Decode()
		if err != nil {
			t.Fatal(err)
		}
		if doc.Get("code") != int32(hostUnreachableCode) || doc.Get("codeName") != "HostUnreachable" || doc.Get("ok") != float64(0) {
			t.Errorf("%q: got %v", errmsg, doc)
		}
	}
}

func TestUnavailableReplySurvivesAMalformedReply(t *testing.T) {
	raw := make([]byte, headerBytes, headerBytes+10)
	raw = append(raw, 2, 0, 0, 0, 0, 200, 0, 0, 0, 3) // checksum flag, a document longer than the message
	if got := unavailableReply(&message{raw: raw, opCode: opMsg}); got != nil {
		t.Error("a malformed reply was rewritten")
	}
}
