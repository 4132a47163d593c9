// Command aurix runs the Aurix Integrations service: "aurix serve" for the
// HTTP API and delivery workers, "aurix migrate up|down|version" for the schema.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aurix/integrations/bootstrap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bootstrap.Main(ctx, os.Args[1:], bootstrap.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
