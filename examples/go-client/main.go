// Command go-client is a small Pocket Sync client in Go, on the generated
// stubs (gen/go) and connect-go; the client itself is package pocketsync.
// It keeps a replica of some collections in one local JSON file, pushes local
// changes, pulls or follows a Subscribe stream, and settles conflicts with a
// client-side strategy. Without arguments it speaks the conformance control
// protocol (proto/pocket/conformance/v1) on stdin and stdout, so
// `pocket-conformance client -- go-client` can judge it.
//
//	go run ./examples/go-client                  # control protocol on stdin/stdout
//	go run ./examples/go-client sync -url http://127.0.0.1:8080 -token T -collection todos -file todos.json
//	go run ./examples/go-client sync -follow ...  # then keep a live stream open until interrupted
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/pocket-sync/pocket-sync/examples/go-client/pocketsync"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("go-client: ")
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		syncCommand(os.Args[2:])
		return
	}
	bug := flag.String("bug", "", "break the client on purpose, for the conformance suite's own tests only: "+bugNames())
	flag.Parse()
	if err := serveControl(os.Stdin, os.Stdout, pocketsync.Bug(*bug)); err != nil && !errors.Is(err, io.EOF) {
		log.Fatal(err)
	}
}

func bugNames() string {
	names := make([]string, len(pocketsync.Bugs))
	for i, b := range pocketsync.Bugs {
		names[i] = string(b)
	}
	return strings.Join(names, ", ")
}

// syncCommand syncs one collection to a local JSON file, then exits or, with
// -follow, keeps a Subscribe stream open until interrupted.
func syncCommand(args []string) {
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	token := fs.String("token", "", "bearer token")
	collection := fs.String("collection", "todos", "collection to sync")
	file := fs.String("file", "pocket-replica.json", "local JSON file")
	strategy := fs.String("strategy", "last-write-wins", "conflict strategy: last-write-wins, local-wins, remote-wins or merge")
	follow := fs.Bool("follow", false, "after syncing, follow the live stream until interrupted")
	_ = fs.Parse(args)
	s, err := pocketsync.ParseStrategy(*strategy)
	if err != nil {
		log.Fatal(err)
	}
	r, err := pocketsync.Open(pocketsync.Config{
		ServerURL: *url, Token: *token, Collections: []string{*collection}, File: *file,
		Strategy: s, Subscribe: *follow, Logf: log.Printf,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := r.Sync(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pushed %d, pulled %d, conflicts %d; %d documents in %s\n", res.Pushed, res.Pulled, res.Conflicts, len(r.Read(*collection, "")), *file)
	if *follow {
		fmt.Println("following; interrupt to stop")
		<-ctx.Done()
		fmt.Printf("%d documents in %s\n", len(r.Read(*collection, "")), *file)
	}
}
