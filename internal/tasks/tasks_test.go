package tasks

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, file, body string
		want             Count
	}{
		{"md", "tasks.md", "# Tasks\n- [ ] one\n- [x] two\n* [X] three\n  - [ ] nested\n1. [ ] numbered\n", Count{Open: 3, Done: 2}},
		{"md fence", "tasks.md", "- [x] a\n```\n- [ ] not a task\n```\n", Count{Done: 1}},
		{"md none", "tasks.md", "no tasks here\n- plain item\n", Count{}},
		{"prd", "prd.json", `{"userStories":[{"id":"US-1","passes":true},{"id":"US-2","passes":false},{"id":"US-3"}]}`, Count{Open: 2, Done: 1}},
		{"prd array", "prd.json", `[{"passes":true}]`, Count{Done: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.file, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Parse("prd.json", []byte(`{"userStories": 3}`)); err == nil {
		t.Error("malformed PRD accepted")
	}
}
