//go:build tools

// Package tools pins sops so `go build` resolves it from go.sum.
package tools

import _ "github.com/getsops/sops/v3/cmd/sops"
