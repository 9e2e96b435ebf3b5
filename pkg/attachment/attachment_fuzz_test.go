package attachment_test

import (
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/regionalconsult/broker/pkg/attachment"
)

// FuzzSniff feeds arbitrary content to Sniff: it never panics, and it names only the three
// accepted types, each with its extension.
func FuzzSniff(f *testing.F) {
	for _, seed := range []string{"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer << >>\n%%EOF\n", "\xff\xd8\xff\xe0", "\x89PNG\r\n\x1a\n",
		"<svg onload=alert(1)>", "%PDF-1.4 <html><script>", ""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, err := attachment.Sniff(data)
		if err != nil {
			return
		}
		if typ != attachment.PDF && typ != attachment.JPEG && typ != attachment.PNG {
			t.Fatalf("got type %q, want PDF, JPEG or PNG", typ)
		}
		if attachment.Extension(typ) == "" {
			t.Fatalf("got no extension for %q", typ)
		}
	})
}

// FuzzName feeds arbitrary declared names to Name: the result is never empty, is valid UTF-8
// with no directory, control or formatting character and none that file systems refuse, fits
// MaxName, and ends with the extension of the content's type.
func FuzzName(f *testing.F) {
	for _, seed := range []string{"scan.pdf", "../../etc/passwd", "report\u202egnp.pdf", "C:\\x\\y.JPG", "  .hidden ", "a\x00b.png", "\xff\xfe"} {
		f.Add(seed, attachment.PDF)
		f.Add(seed, attachment.PNG)
	}
	f.Fuzz(func(t *testing.T, declared, typ string) {
		if typ != attachment.PDF && typ != attachment.JPEG && typ != attachment.PNG {
			return
		}
		name := attachment.Name(declared, typ)
		switch {
		case name == "":
			t.Fatalf("got an empty name for %q", declared)
		case !utf8.ValidString(name):
			t.Fatalf("got %q, not UTF-8, for %q", name, declared)
		case strings.ContainsAny(name, `/\<>:"|?*`):
			t.Fatalf("got %q, with a character file systems refuse, for %q", name, declared)
		case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
			t.Fatalf("got %q, with a control or formatting character, for %q", name, declared)
		case utf8.RuneCountInString(name) > attachment.MaxName:
			t.Fatalf("got %q, longer than %d characters, for %q", name, attachment.MaxName, declared)
		case !strings.EqualFold(path.Ext(name), attachment.Extension(typ)):
			t.Fatalf("got %q, without the extension %s of its content, for %q", name, attachment.Extension(typ), declared)
		}
	})
}
