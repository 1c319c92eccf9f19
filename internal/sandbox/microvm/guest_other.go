//go:build !linux

package microvm

// IsGuest: ralph is a microVM's init only in its Linux guest.
func IsGuest(args []string) bool { return false }

// GuestMain: never reached outside Linux.
func GuestMain(args []string) int { return 70 }
