//go:build tools

// Package tools pins the Pulumi CLI module so `go build` resolves it from go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
