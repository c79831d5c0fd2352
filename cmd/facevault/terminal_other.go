//go:build !linux

package main

import (
	"errors"
	"io"
)

// terminalFD reports no terminal: off Linux, passwords come on standard
// input.
func terminalFD(io.Reader) (int, bool) { return 0, false }

func readHidden(int, io.Writer, string) (string, error) {
	return "", errors.New("no terminal prompt on this system: give the password on standard input")
}
