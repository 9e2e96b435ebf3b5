package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readJSON decodes the file at path into a value of type T.
func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", path)
	return v
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

func TestWriteDatabaseFromFixture(t *testing.T) {
	zero := mustTime(t, "2099-01-15T00:00:00Z") // stands in for the module's commit time
	kept := mustTime(t, "2099-03-04T05:06:07Z") // GO-2099-0002 carries its own time
	out := filepath.Join(t.TempDir(), "bin", "vulndb")

	st, err := writeDatabase("testdata/osv", out, zero, "fixture")
	require.NoError(t, err)
	assert.Equal(t, stats{entries: 3, modules: 3}, st)

	t.Run("db.json is the newest modified time", func(t *testing.T) {
		assert.Equal(t, dbMeta{Modified: kept}, readJSON[dbMeta](t, filepath.Join(out, "index", "db.json")))
	})

	t.Run("modules.json by path, vulns by id, with the fix govulncheck would compute", func(t *testing.T) {
		want := []moduleMeta{
			{Path: "example.com/tool", Vulns: []moduleVuln{
				{ID: "GO-2099-0003", Modified: zero, Fixed: "0.0.0-20990201000000-bbbbbbbbbbbb"},
			}},
			{Path: "example.com/web", Vulns: []moduleVuln{
				{ID: "GO-2099-0001", Modified: zero, Fixed: "1.2.3"},
				{ID: "GO-2099-0002", Modified: kept}, // re-introduced in 2.0.0: no fix
			}},
			{Path: "stdlib", Vulns: []moduleVuln{ // two blocks, one record
				{ID: "GO-2099-0002", Modified: kept, Fixed: "1.27.2"},
			}},
		}
		assert.Equal(t, want, readJSON[[]moduleMeta](t, filepath.Join(out, "index", "modules.json")))
	})

	t.Run("vulns.json by id with aliases", func(t *testing.T) {
		want := []vulnMeta{
			{ID: "GO-2099-0001", Modified: zero, Aliases: []string{"CVE-2099-0001", "GHSA-aaaa-bbbb-cccc"}},
			{ID: "GO-2099-0002", Modified: kept},
			{ID: "GO-2099-0003", Modified: zero, Aliases: []string{"CVE-2099-0003"}},
		}
		assert.Equal(t, want, readJSON[[]vulnMeta](t, filepath.Join(out, "index", "vulns.json")))
	})

	t.Run("ID files keep every field, with zero times replaced", func(t *testing.T) {
		tests := []struct {
			id       string
			modified string
		}{
			{"GO-2099-0001", "2099-01-15T00:00:00Z"},
			{"GO-2099-0002", "2099-03-04T05:06:07Z"},
			{"GO-2099-0003", "2099-01-15T00:00:00Z"},
		}
		for _, tt := range tests {
			t.Run(tt.id, func(t *testing.T) {
				got := readJSON[map[string]any](t, filepath.Join(out, "ID", tt.id+".json"))
				src := readJSON[map[string]any](t, filepath.Join("testdata", "osv", tt.id+".json"))
				assert.Equal(t, tt.modified, got["modified"])
				delete(got, "modified")
				delete(src, "modified")
				assert.Equal(t, src, got)
			})
		}
		raw, err := os.ReadFile(filepath.Join(out, "ID", "GO-2099-0001.json"))
		require.NoError(t, err)
		assert.Contains(t, string(raw), "Header <b>injection</b> & smuggling", "text is stored without HTML escaping")
	})

	t.Run("only the database files, and where they came from", func(t *testing.T) {
		var files []string
		require.NoError(t, filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(out, path)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		}))
		assert.ElementsMatch(t, []string{
			"SOURCE", "index/db.json", "index/modules.json", "index/vulns.json",
			"ID/GO-2099-0001.json", "ID/GO-2099-0002.json", "ID/GO-2099-0003.json",
		}, files)
		source, err := os.ReadFile(filepath.Join(out, "SOURCE"))
		require.NoError(t, err)
		assert.Equal(t, "fixture\n3 entries; zero modified times set to 2099-01-15T00:00:00Z\n", string(source))
	})

	t.Run("a rebuild replaces the folder and leaves no temporary one", func(t *testing.T) {
		stale := filepath.Join(out, "ID", "GO-2000-9999.json")
		require.NoError(t, os.WriteFile(stale, []byte("{}"), 0o644))
		_, err := writeDatabase("testdata/osv", out, zero, "fixture")
		require.NoError(t, err)
		assert.NoFileExists(t, stale)
		siblings, err := os.ReadDir(filepath.Dir(out))
		require.NoError(t, err)
		require.Len(t, siblings, 1)
		assert.Equal(t, "vulndb", siblings[0].Name())
	})
}

func TestWriteDatabaseRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "no OSV files", files: map[string]string{"README.md": "x"}, wantErr: "no OSV .json files"},
		{name: "not JSON", files: map[string]string{"GO-2099-0001.json": "{"}, wantErr: "GO-2099-0001.json: unexpected end of JSON input"},
		{name: "no id", files: map[string]string{"GO-2099-0001.json": `{"affected":[]}`}, wantErr: "no id"},
		{
			name:    "file named after another id",
			files:   map[string]string{"GO-2099-0001.json": `{"id":"GO-2099-0002"}`},
			wantErr: "holds GO-2099-0002, so it must be named GO-2099-0002.json",
		},
		{
			name:    "bad modified time",
			files:   map[string]string{"GO-2099-0001.json": `{"id":"GO-2099-0001","modified":"yesterday"}`},
			wantErr: "GO-2099-0001.json: parsing time",
		},
		{
			name:    "affected package without a name",
			files:   map[string]string{"GO-2099-0001.json": `{"id":"GO-2099-0001","affected":[{"package":{"ecosystem":"Go"}}]}`},
			wantErr: "an affected package has no name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := t.TempDir()
			for name, body := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(in, name), []byte(body), 0o644))
			}
			// A database from an earlier run must survive a failed rebuild.
			out := filepath.Join(t.TempDir(), "vulndb")
			_, err := writeDatabase("testdata/osv", out, time.Unix(0, 0), "fixture")
			require.NoError(t, err)

			_, err = writeDatabase(in, out, time.Unix(0, 0), "broken")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.FileExists(t, filepath.Join(out, "index", "modules.json"))
			siblings, err := os.ReadDir(filepath.Dir(out))
			require.NoError(t, err)
			assert.Len(t, siblings, 1, "the temporary folder is removed")
		})
	}
}

func TestOneRecordPerModuleAndEntry(t *testing.T) {
	block := func(module, fixed string) string {
		events := `{"introduced":"0"}`
		if fixed != "" {
			events += `,{"fixed":"` + fixed + `"}`
		}
		return `{"package":{"name":"` + module + `"},"ranges":[{"type":"SEMVER","events":[` + events + `]}]}`
	}
	tests := []struct {
		name   string
		blocks []string
		want   []moduleVuln
	}{
		{name: "one block", blocks: []string{block("stdlib", "1.26.9")}, want: []moduleVuln{{ID: "GO-2099-0001", Fixed: "1.26.9"}}},
		{name: "the later fix wins", blocks: []string{block("stdlib", "1.26.9"), block("stdlib", "1.27.2")}, want: []moduleVuln{{ID: "GO-2099-0001", Fixed: "1.27.2"}}},
		{name: "in either order", blocks: []string{block("stdlib", "1.27.2"), block("stdlib", "1.26.9")}, want: []moduleVuln{{ID: "GO-2099-0001", Fixed: "1.27.2"}}},
		{name: "a block without a fix wins", blocks: []string{block("stdlib", "1.27.2"), block("stdlib", "")}, want: []moduleVuln{{ID: "GO-2099-0001"}}},
		{name: "whichever comes first", blocks: []string{block("stdlib", ""), block("stdlib", "1.27.2")}, want: []moduleVuln{{ID: "GO-2099-0001"}}},
		{name: "other modules keep their own record", blocks: []string{block("stdlib", "1.26.9"), block("golang.org/x/net", "0.61.0"), block("stdlib", "1.27.2")}, want: []moduleVuln{{ID: "GO-2099-0001", Fixed: "1.27.2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out := t.TempDir(), filepath.Join(t.TempDir(), "vulndb")
			body := `{"id":"GO-2099-0001","affected":[` + strings.Join(tt.blocks, ",") + `]}`
			require.NoError(t, os.WriteFile(filepath.Join(in, "GO-2099-0001.json"), []byte(body), 0o644))
			_, err := writeDatabase(in, out, time.Time{}, "inline")
			require.NoError(t, err)
			var stdlib []moduleVuln
			for _, m := range readJSON[[]moduleMeta](t, filepath.Join(out, "index", "modules.json")) {
				assert.Len(t, m.Vulns, 1, m.Path)
				if m.Path == "stdlib" {
					stdlib = m.Vulns
				}
			}
			assert.Equal(t, tt.want, stdlib)
		})
	}
}

func TestNonSupersededFix(t *testing.T) {
	semverRange := func(events ...[2]string) osvRange {
		r := osvRange{Type: "SEMVER"}
		for _, e := range events {
			r.Events = append(r.Events, struct {
				Introduced string `json:"introduced,omitempty"`
				Fixed      string `json:"fixed,omitempty"`
			}{Introduced: e[0], Fixed: e[1]})
		}
		return r
	}
	in := func(v string) [2]string { return [2]string{v, ""} }
	fix := func(v string) [2]string { return [2]string{"", v} }

	tests := []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{name: "no ranges", want: ""},
		{name: "never fixed", ranges: []osvRange{semverRange(in("0"))}, want: ""},
		{name: "one fix", ranges: []osvRange{semverRange(in("0"), fix("1.2.3"))}, want: "1.2.3"},
		{name: "latest of several fixes", ranges: []osvRange{semverRange(in("0"), fix("1.25.9"), in("1.26.0-0"), fix("1.26.9"))}, want: "1.26.9"},
		{name: "fixes compared as versions, not text", ranges: []osvRange{semverRange(in("0"), fix("1.9.0"), in("1.10.0"), fix("1.10.2"))}, want: "1.10.2"},
		{name: "re-introduced after the fix", ranges: []osvRange{semverRange(in("0"), fix("1.0.0"), in("2.0.0"))}, want: ""},
		{name: "latest fix across ranges", ranges: []osvRange{semverRange(in("0"), fix("1.0.1")), semverRange(in("2.0.0"), fix("2.0.3"))}, want: "2.0.3"},
		{name: "a later range re-introduces it", ranges: []osvRange{semverRange(in("0"), fix("1.0.1")), semverRange(in("3.0.0"))}, want: ""},
		{name: "pseudo-versions", ranges: []osvRange{semverRange(in("0.0.0-20200101000000-aaaaaaaaaaaa"), fix("0.0.0-20210101000000-bbbbbbbbbbbb"))}, want: "0.0.0-20210101000000-bbbbbbbbbbbb"},
		{name: "pre-release fix", ranges: []osvRange{semverRange(in("0"), fix("1.5.0-rc.2"))}, want: "1.5.0-rc.2"},
		{name: "non-SEMVER ranges are ignored", ranges: []osvRange{{Type: "GIT", Events: semverRange(fix("9.9.9")).Events}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, nonSupersededFix(tt.ranges))
		})
	}
}

// TestPinnedModuleHasOSVData checks that go.mod pins golang.org/x/vulndb and
// that its version ships the data/osv folder the lint script builds from.
func TestPinnedModuleHasOSVData(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	src, err := pinnedModule()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(src.desc, vulndbModule+"@v"), src.desc)
	assert.False(t, src.time.IsZero())
	files, err := filepath.Glob(filepath.Join(src.dir, "GO-*.json"))
	require.NoError(t, err)
	assert.Greater(t, len(files), 1000, "OSV files in %s", src.dir)
}
