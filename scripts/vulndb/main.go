// Command vulndb builds an offline Go vulnerability database for govulncheck
// from the OSV files in the golang.org/x/vulndb module version pinned in go.mod.
//
// govulncheck's default database, vuln.go.dev, cannot be reached from CI here,
// but the Go module proxy can: golang.org/x/vulndb ships every published Go
// vulnerability report as an OSV file under data/osv/GO-YYYY-NNNN.json. This
// program lays those files out in the database v1 format that
// `govulncheck -db file:///abs/dir` reads:
//
//	index/db.json       {"modified": newest entry's modified time}
//	index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"}]}], by path, then id
//	index/vulns.json    [{"id", "modified", "aliases"}], by id
//	ID/GO-YYYY-NNNN.json  the OSV entry
//	SOURCE              which module version (or folder) it was built from
//
// The OSV files in the module carry a zero "modified" time: upstream fills it
// in from git history when it publishes vuln.go.dev, and a module zip has no
// history. A zero time is replaced by the pinned version's commit time (the
// newest moment the entry can have been modified in that snapshot), so the
// database reports a meaningful date; entries that do carry a time keep it.
// The "fixed" field of modules.json is computed as govulncheck itself does
// (golang.org/x/vuln/internal/semver.NonSupersededFix): the latest fix of the
// entry's SEMVER ranges, or none when a range re-introduces the vulnerability
// after that fix. Where one entry has several affected blocks for the same
// module (the standard library, one block per package), upstream's indexers
// list the entry once per block, and govulncheck then reads the entry twice
// and prints every trace twice; here such blocks make one record, whose fix
// is the latest of theirs, or none if one of them has none, so the same
// module versions select the entry.
//
// Usage (from the repository root):
//
//	go run ./scripts/vulndb -out bin/vulndb
//	go tool govulncheck -db file://$PWD/bin/vulndb ./...
//
// With -osv DIR it builds from that folder instead of the pinned module (then
// -modified sets the time that replaces zero times; the default is now).
// The database is written to a temporary folder beside -out and renamed into
// place, so an interrupted run never leaves a half-written database.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
	// The blank import keeps golang.org/x/vulndb a requirement of the main
	// module, so `go mod tidy` does not drop the pin this program reads its
	// data from. Of that module's importable packages (not internal, not a
	// command), cmd/vulnreport/color is the one that imports nothing: it
	// declares only constants, so it adds no code and no dependency, where
	// golang.org/x/vulndb/report would pull in go-git and Google Cloud clients.
	_ "golang.org/x/vulndb/cmd/vulnreport/color"
)

// vulndbModule is the module whose data/osv folder is the database's source.
const vulndbModule = "golang.org/x/vulndb"

func main() {
	log.SetFlags(0)
	log.SetPrefix("vulndb: ")
	out := flag.String("out", "", "folder to write the database to (replaced whole)")
	osvDir := flag.String("osv", "", "folder of OSV .json files (default: data/osv of the "+vulndbModule+" version in go.mod)")
	modified := flag.String("modified", "", "RFC 3339 time that replaces a zero \"modified\" time (default: the module version's commit time, or now with -osv)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}

	var src source
	if *osvDir != "" {
		src = source{dir: *osvDir, desc: *osvDir, time: time.Now().UTC().Truncate(time.Second)}
	} else {
		var err error
		if src, err = pinnedModule(); err != nil {
			log.Fatal(err)
		}
	}
	if *modified != "" {
		t, err := time.Parse(time.RFC3339, *modified)
		if err != nil {
			log.Fatalf("-modified: %v", err)
		}
		src.time = t
	}

	start := time.Now()
	st, err := writeDatabase(src.dir, *out, src.time, src.desc)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d entries for %d modules from %s written to %s in %s",
		st.entries, st.modules, src.desc, *out, time.Since(start).Round(time.Millisecond))
}

// source is where the OSV files come from.
type source struct {
	dir  string    // folder of OSV .json files
	desc string    // recorded in SOURCE and in the log
	time time.Time // replaces zero "modified" times
}

// pinnedModule downloads (if needed) the golang.org/x/vulndb version selected
// by go.mod and returns its data/osv folder and commit time.
func pinnedModule() (source, error) {
	var m struct {
		Path, Version, Dir string
		Time               *time.Time
		Error              *struct{ Err string }
	}
	for attempt := 0; ; attempt++ {
		cmd := exec.Command("go", "list", "-m", "-json", vulndbModule)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return source{}, fmt.Errorf("go list -m %s (is it required in go.mod?): %v", vulndbModule, err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return source{}, fmt.Errorf("go list -m %s: %v", vulndbModule, err)
		}
		if m.Error != nil {
			return source{}, fmt.Errorf("go list -m %s: %s", vulndbModule, m.Error.Err)
		}
		if m.Dir != "" || attempt > 0 {
			break
		}
		// Not in the module cache yet: download it (checked against go.sum).
		dl := exec.Command("go", "mod", "download", vulndbModule)
		dl.Stdout, dl.Stderr = os.Stderr, os.Stderr
		if err := dl.Run(); err != nil {
			return source{}, fmt.Errorf("go mod download %s: %v", vulndbModule, err)
		}
	}
	if m.Dir == "" {
		return source{}, fmt.Errorf("%s@%s: no module folder after go mod download", vulndbModule, m.Version)
	}
	if m.Time == nil {
		return source{}, fmt.Errorf("%s@%s: go list reports no commit time", vulndbModule, m.Version)
	}
	return source{
		dir:  filepath.Join(m.Dir, "data", "osv"),
		desc: vulndbModule + "@" + m.Version,
		time: m.Time.UTC(),
	}, nil
}

// entry holds the parts of an OSV entry that the indexes need.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges,omitempty"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// The index records, field for field as govulncheck reads them
// (golang.org/x/vuln/internal/client/schema.go).
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

type stats struct{ entries, modules int }

// writeDatabase reads every *.json file in osvDir, which must each hold one
// OSV entry named after its id, and writes the database to out, replacing
// what was there. Zero "modified" times become zeroModified.
func writeDatabase(osvDir, out string, zeroModified time.Time, desc string) (stats, error) {
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return stats{}, err
	}
	if len(files) == 0 {
		return stats{}, fmt.Errorf("no OSV .json files in %s", osvDir)
	}
	sort.Strings(files)

	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return stats{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return stats{}, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Mkdir(filepath.Join(tmp, "ID"), 0o755); err != nil {
		return stats{}, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "index"), 0o755); err != nil {
		return stats{}, err
	}

	db := dbMeta{}
	modules := map[string]*moduleMeta{}
	vulns := map[string]vulnMeta{}
	for _, f := range files {
		e, raw, err := readEntry(f, zeroModified)
		if err != nil {
			return stats{}, err
		}
		vulns[e.ID] = vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases}
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" {
				return stats{}, fmt.Errorf("%s: an affected package has no name", f)
			}
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path, Vulns: []moduleVuln{}}
				modules[path] = m
			}
			fixed := nonSupersededFix(a.Ranges)
			if n := len(m.Vulns); n > 0 && m.Vulns[n-1].ID == e.ID {
				// Several affected blocks of one entry name the same module
				// (stdlib often, one block per package). One record, whose
				// fix covers all blocks: none if any block has none.
				if prev := &m.Vulns[n-1]; prev.Fixed != "" && (fixed == "" || less(prev.Fixed, fixed)) {
					prev.Fixed = fixed
				}
				continue
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: fixed})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return stats{}, err
		}
	}

	modList := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		modList = append(modList, m)
	}
	sort.Slice(modList, func(i, j int) bool { return modList[i].Path < modList[j].Path })
	vulnList := make([]vulnMeta, 0, len(vulns))
	for _, v := range vulns {
		vulnList = append(vulnList, v)
	}
	sort.Slice(vulnList, func(i, j int) bool { return vulnList[i].ID < vulnList[j].ID })

	for name, v := range map[string]any{"db.json": db, "modules.json": modList, "vulns.json": vulnList} {
		b, err := marshal(v)
		if err != nil {
			return stats{}, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name), b, 0o644); err != nil {
			return stats{}, err
		}
	}
	note := fmt.Sprintf("%s\n%d entries; zero modified times set to %s\n", desc, len(vulns), zeroModified.UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(tmp, "SOURCE"), []byte(note), 0o644); err != nil {
		return stats{}, err
	}

	if err := os.RemoveAll(out); err != nil {
		return stats{}, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return stats{}, err
	}
	return stats{entries: len(vulns), modules: len(modules)}, nil
}

// readEntry parses one OSV file. It returns the fields the indexes need and
// the entry to store under ID/, which is the file's own JSON (every field
// kept) with a zero "modified" time replaced by zeroModified.
func readEntry(file string, zeroModified time.Time) (entry, []byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return entry{}, nil, err
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return entry{}, nil, fmt.Errorf("%s: %v", file, err)
	}
	if e.ID == "" {
		return entry{}, nil, fmt.Errorf("%s: no id", file)
	}
	if want := e.ID + ".json"; filepath.Base(file) != want {
		// govulncheck looks entries up as ID/<id>.json.
		return entry{}, nil, fmt.Errorf("%s: holds %s, so it must be named %s", file, e.ID, want)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return entry{}, nil, fmt.Errorf("%s: %v", file, err)
	}
	if e.Modified.IsZero() {
		e.Modified = zeroModified.UTC()
		t, err := json.Marshal(e.Modified)
		if err != nil {
			return entry{}, nil, err
		}
		fields["modified"] = t
	}
	raw, err := marshal(fields)
	if err != nil {
		return entry{}, nil, fmt.Errorf("%s: %v", file, err)
	}
	return e, raw, nil
}

// marshal is json.Marshal without HTML escaping, so stored entries keep
// their text as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// nonSupersededFix returns the fixed version of ranges that no later fix or
// later re-introduction supersedes, or "" if there is none. It mirrors
// golang.org/x/vuln/internal/semver.NonSupersededFix, which govulncheck uses
// to build the same index for a folder of OSV files: a module version at or
// above it is skipped without reading the entry, so it must never be too low.
func nonSupersededFix(ranges []osvRange) string {
	var latestFixed string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && less(latestFixed, e.Fixed) {
				latestFixed = e.Fixed
			}
		}
		// A vulnerability re-introduced after the latest fix has no fix.
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && less(latestFixed, e.Introduced) {
				latestFixed = ""
				break
			}
		}
	}
	return latestFixed
}

// less reports whether OSV version v < w. OSV versions have no "v" prefix
// (Go releases may appear as "go1.x"); an empty or invalid version sorts
// before every valid one.
func less(v, w string) bool {
	return semver.Compare(canonical(v), canonical(w)) < 0
}

func canonical(v string) string {
	return "v" + strings.TrimPrefix(strings.TrimPrefix(v, "v"), "go")
}
