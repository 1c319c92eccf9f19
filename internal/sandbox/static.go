package sandbox

import "debug/elf"

// Static reports whether the program at path is a statically linked ELF
// binary (no program interpreter), so it runs in any image or guest,
// whatever its libc.
func Static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
