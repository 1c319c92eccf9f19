//go:build !unix

package gatehost

import "io/fs"

// inode is empty where files have no inode numbers ralph reads.
func inode(fs.FileInfo) string { return "" }
