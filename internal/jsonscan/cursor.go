package jsonscan

// Cursor walks one JSON value once, front to back: the caller consumes
// each value it meets with exactly one of Skip, Raw, String, Object or
// Array, so nested fields are read without scanning their bytes again.
// A malformed value stops the walk and makes Err true.
type Cursor struct {
	b   []byte
	i   int
	bad bool
}

// NewCursor starts a walk of b.
func NewCursor(b []byte) *Cursor { return &Cursor{b: b} }

// Err reports whether the walk met something malformed.
func (c *Cursor) Err() bool { return c.bad }

func (c *Cursor) fail() bool {
	c.bad = true
	return false
}

// Refuse marks the walk as failed: the caller met a value it will not
// read this way.
func (c *Cursor) Refuse() { c.bad = true }

// Peek is the first byte of the next value (0 at the end).
func (c *Cursor) Peek() byte {
	c.i = skipSpace(c.b, c.i)
	if c.i >= len(c.b) {
		return 0
	}
	return c.b[c.i]
}

// Raw consumes the next value and returns its bytes.
func (c *Cursor) Raw() ([]byte, bool) {
	if c.bad || c.Peek() == 0 {
		return nil, c.fail()
	}
	end := skipValue(c.b, c.i)
	if end < 0 {
		return nil, c.fail()
	}
	v := c.b[c.i:end]
	c.i = end
	return v, true
}

// Skip consumes the next value.
func (c *Cursor) Skip() bool {
	_, ok := c.Raw()
	return ok
}

// String consumes the next value, which must be a string, unquoted.
func (c *Cursor) String() (string, bool) {
	if c.Peek() != '"' {
		return "", c.fail()
	}
	v, ok := c.Raw()
	if !ok {
		return "", false
	}
	s, ok := String(v)
	if !ok {
		return "", c.fail()
	}
	return s, true
}

// RawString consumes the next value, which must be a string, and returns
// its bytes between the quotes, still escaped.
func (c *Cursor) RawString() ([]byte, bool) {
	if c.Peek() != '"' {
		return nil, c.fail()
	}
	v, ok := c.Raw()
	if !ok {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// Object consumes the next value, which must be an object: fn gets each
// key (raw, between its quotes) and must consume its value; when fn
// returns false the walk of this object stops there (the rest of the
// input is then not consumed). It reports false on malformed input.
func (c *Cursor) Object(fn func(key []byte) bool) bool {
	if c.bad || c.Peek() != '{' {
		return c.fail()
	}
	c.i++
	if c.Peek() == '}' {
		c.i++
		return true
	}
	for {
		if c.Peek() != '"' {
			return c.fail()
		}
		end := skipString(c.b, c.i)
		if end < 0 {
			return c.fail()
		}
		key := c.b[c.i+1 : end-1]
		c.i = end
		if c.Peek() != ':' {
			return c.fail()
		}
		c.i++
		if !fn(key) || c.bad {
			return !c.bad
		}
		switch c.Peek() {
		case '}':
			c.i++
			return true
		case ',':
			c.i++
		default:
			return c.fail()
		}
	}
}

// Array consumes the next value, which must be an array: fn must consume
// each element; when it returns false the walk stops there.
func (c *Cursor) Array(fn func() bool) bool {
	if c.bad || c.Peek() != '[' {
		return c.fail()
	}
	c.i++
	if c.Peek() == ']' {
		c.i++
		return true
	}
	for {
		if !fn() || c.bad {
			return !c.bad
		}
		switch c.Peek() {
		case ']':
			c.i++
			return true
		case ',':
			c.i++
		default:
			return c.fail()
		}
	}
}
