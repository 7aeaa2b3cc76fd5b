// Command mailpit runs Mailpit, the local mail catcher that REELFLUX's mail is sent to in
// development and tests (scripts/infrastructure/ensureMailpit.ts builds and starts it).
//
// Why a module of our own rather than `go install github.com/axllent/mailpit@v1.33.1`? The
// go.sum here pins every dependency, and the build is cached by the hash of these files like
// our FerretDB's. Mailpit's web UI (server/ui/dist) is built by npm in its release process and
// is not in the module the Go proxy serves: ensureMailpit.ts builds it from the packages pinned
// in ui/ and points this build at that copy of the source.
package main

import "github.com/axllent/mailpit/cmd"

func main() {
	cmd.Execute()
}
