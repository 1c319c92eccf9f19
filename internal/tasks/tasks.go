// Package tasks reads a project's task file: a Markdown checklist
// (.ralph/tasks.md) or a PRD of user stories (.ralph/prd.json), and counts
// what is still open.
package tasks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
)

// Count is the state of a task file.
type Count struct {
	Open, Done int
}

var checkbox = regexp.MustCompile(`^\s*(?:[-*+]|\d+[.)])\s+\[([ xX])\]`)

// Parse counts the tasks in data, read from the file name. A .json file is a PRD: an object with a
// "userStories" array (or a bare array) whose items carry a boolean
// "passes". Anything else is a Markdown checklist: "- [ ]" is open,
// "- [x]" is done, checkboxes inside code fences are ignored.
func Parse(path string, data []byte) (Count, error) {
	if filepath.Ext(path) == ".json" {
		return readPRD(path, data)
	}
	var c Count
	fence := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		t := bytes.TrimSpace(line)
		if bytes.HasPrefix(t, []byte("```")) || bytes.HasPrefix(t, []byte("~~~")) {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if m := checkbox.FindSubmatch(line); m != nil {
			if m[1][0] == ' ' {
				c.Open++
			} else {
				c.Done++
			}
		}
	}
	return c, sc.Err()
}

func readPRD(path string, data []byte) (Count, error) {
	type story struct {
		Passes *bool `json:"passes"`
	}
	var doc struct {
		UserStories []story `json:"userStories"`
	}
	var stories []story
	if err := json.Unmarshal(data, &doc); err == nil && doc.UserStories != nil {
		stories = doc.UserStories
	} else if err := json.Unmarshal(data, &stories); err != nil {
		return Count{}, fmt.Errorf("%s: not a PRD (an object with \"userStories\", each with \"passes\"): %w", path, err)
	}
	var c Count
	for _, s := range stories {
		if s.Passes != nil && *s.Passes {
			c.Done++
		} else {
			c.Open++
		}
	}
	return c, nil
}
