// Command fakesbx is the fake sbx CLI of ralph's tests (see sbxtest).
package main

import "github.com/ralphloop/ralph/internal/sandbox/sbx/sbxtest"

func main() { sbxtest.Main() }
