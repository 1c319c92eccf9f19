package gitignore

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tree writes files (path -> content) under a new folder.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func reader(dir string) ReadFile {
	return func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, rel)) }
}

// walk lists the files the matcher keeps, skipping ignored folders.
func walk(t *testing.T, dir string) []string {
	m := New(reader(dir))
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if m.Ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

var cases = map[string]string{
	".gitignore":              "# build output\nnode_modules/\n/dist\n*.log\n!keep.log\nbuild/**\n**/cache\ndoc/*.tmp\n\\#hash\ntrailing   \n[Tt]emp?.txt\n",
	".git/info/exclude":       "secret.txt\n",
	"node_modules/a/index.js": "x",
	"src/node_modules/b.js":   "x",
	"dist/app.js":             "x",
	"src/dist/keep.js":        "x",
	"app.log":                 "x",
	"keep.log":                "x",
	"sub/deep/x.log":          "x",
	"build/out/o.bin":         "x",
	"x/cache/c":               "x",
	"cache":                   "x",
	"doc/a.tmp":               "x",
	"doc/sub/b.tmp":           "x",
	"#hash":                   "x",
	"trailing":                "x",
	"Temp1.txt":               "x",
	"temp22.txt":              "x",
	"secret.txt":              "x",
	"src/main.go":             "x",
	"src/.gitignore":          "*.gen.go\n!keep.gen.go\n/local\n",
	"src/a.gen.go":            "x",
	"src/keep.gen.go":         "x",
	"src/local/l.txt":         "x",
	"local/l.txt":             "x",
	"README.md":               "x",
}

func TestIgnoredLikeGit(t *testing.T) {
	dir := tree(t, cases)
	got := walk(t, dir)
	want := []string{".gitignore", "README.md", "doc/sub/b.tmp", "keep.log", "local/l.txt", "src/.gitignore", "src/dist/keep.js", "src/keep.gen.go", "src/main.go", "temp22.txt"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept files (-want +got):\n%s", diff)
	}
	// git itself agrees, where it is installed.
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed: no oracle")
	}
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return string(out)
	}
	os.WriteFile(filepath.Join(dir, ".git", "info", "exclude"), []byte("secret.txt\n"), 0o644)
	run("init", "-q")
	os.WriteFile(filepath.Join(dir, ".git", "info", "exclude"), []byte("secret.txt\n"), 0o644)
	var fromGit []string
	for _, l := range strings.Split(strings.TrimSpace(run("ls-files", "--others", "--exclude-standard")), "\n") {
		fromGit = append(fromGit, l)
	}
	sort.Strings(fromGit)
	if diff := cmp.Diff(fromGit, got); diff != "" {
		t.Errorf("git ls-files --others --exclude-standard vs ours (-git +ours):\n%s", diff)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"*.log", "!a", "/b/", "**/c", "d/**", "[a-", `\`, "a/**/b", "[!x]y", "***"} {
		f.Add(s, "a/b/c.log")
	}
	f.Fuzz(func(t *testing.T, pat, p string) {
		m := &Matcher{read: func(string) ([]byte, error) { return []byte(pat), nil }, cache: map[string][]pattern{}}
		m.Ignored(p, false)
		m.Ignored(p, true)
	})
}
