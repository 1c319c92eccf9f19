package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// applyConfig sets every flag not given on the command line from the
// project's config file, whose keys are the flags' long names:
//
//	max-iterations = 50
//	agent = "codex"
//	env = ["GITHUB_TOKEN"]
//	agent-args = ["--model", "gpt-5.5"]
//
// A missing file is fine; a malformed one is a usage error naming the file
// and line.
func applyConfig(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return usageErr("config %s: %v", path, err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return usageErr("config %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return usageErr("config %s: %v", path, err)
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		line := keyLine(data, k)
		f := fs.Lookup(k)
		if f == nil || k == "help" {
			return usageErr("config %s:%d: unknown key %q (keys are the long flag names: see ralph --help)", path, line, k)
		}
		if f.Changed {
			continue
		}
		vals, err := values(raw[k], f.Value.Type())
		if err != nil {
			return usageErr("config %s:%d: %s: %v", path, line, k, err)
		}
		for _, v := range vals {
			if err := f.Value.Set(v); err != nil {
				return usageErr("config %s:%d: %s: %v", path, line, k, err)
			}
		}
	}
	return nil
}

// values turns a TOML value into the strings flag.Set takes.
func values(v any, typ string) ([]string, error) {
	switch x := v.(type) {
	case []any:
		if !strings.HasSuffix(typ, "Array") && !strings.HasSuffix(typ, "Slice") {
			return nil, fmt.Errorf("want a single %s, not a list", typ)
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("want a value, not a table")
	case string:
		if typ == "int" || typ == "bool" {
			return nil, fmt.Errorf("want a %s, not a string", typ)
		}
		return []string{x}, nil
	case int64:
		if typ != "int" {
			return nil, fmt.Errorf("want a %s, not a number", typ)
		}
		return []string{fmt.Sprint(x)}, nil
	case bool:
		if typ != "bool" {
			return nil, fmt.Errorf("want a %s, not true/false", typ)
		}
		return []string{fmt.Sprint(x)}, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

// keyLine finds the line where key is set, for error messages.
func keyLine(data []byte, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, l := range strings.Split(string(data), "\n") {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 1
}
