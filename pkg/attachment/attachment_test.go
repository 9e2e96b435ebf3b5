package attachment_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/attachment"
)

// Tiny real files, made the way a scanner or a phone would.
func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for x := range 8 {
		for y := range 6 {
			img.Set(x, y, color.RGBA{R: uint8(30 * x), G: uint8(40 * y), B: 120, A: 255})
		}
	}
	return img
}

func pngFile(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, testImage()))
	return b.Bytes()
}

func jpegFile(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, testImage(), &jpeg.Options{Quality: 80}))
	return b.Bytes()
}

const pdfFile = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n" +
	"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n" +
	"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n" +
	"trailer << /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n"

// hugePNG is a valid PNG whose header claims width × height pixels.
func hugePNG(t testing.TB, width, height uint32) []byte {
	t.Helper()
	data := bytes.Clone(pngFile(t))
	ihdr := data[8:] // length(4) "IHDR"(4) width(4) height(4) ... crc(4)
	require.Equal(t, "IHDR", string(ihdr[4:8]))
	binary.BigEndian.PutUint32(ihdr[8:12], width)
	binary.BigEndian.PutUint32(ihdr[12:16], height)
	binary.BigEndian.PutUint32(ihdr[21:25], crc32.ChecksumIEEE(ihdr[4:21]))
	return data
}

func TestSniff(t *testing.T) {
	pngData, jpegData := pngFile(t), jpegFile(t)
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" for refused
	}{
		{"pdf", []byte(pdfFile), attachment.PDF},
		{"pdf with bytes after %%EOF", []byte(pdfFile + "\r\n\x00\x00"), attachment.PDF},
		{"jpeg", jpegData, attachment.JPEG},
		{"png", pngData, attachment.PNG},
		{"empty", nil, ""},
		{"html", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), ""},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>`), ""},
		{"svg with xml declaration", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), ""},
		{"html before a pdf", []byte("<html><script>alert(1)</script></html>\n" + pdfFile), ""},
		{"whitespace before a pdf", []byte("\n" + pdfFile), ""},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ""},
		{"pdf without %%EOF", []byte(strings.TrimSuffix(pdfFile, "%%EOF\n")), ""},
		{"pdf with %%EOF only far from its end", []byte(pdfFile + strings.Repeat(" ", 2048)), ""},
		{"only the pdf magic", []byte("%PDF-"), ""},
		{"png cut inside its header", pngData[:20], ""},
		{"png cut before its end", pngData[:len(pngData)-1], ""},
		{"png cut in half", pngData[:len(pngData)/2], ""},
		{"png with a script after its end", append(bytes.Clone(pngData), []byte("<script>alert(1)</script>")...), ""},
		{"png of too many pixels", hugePNG(t, 100_000, 100_000), ""},
		{"png of zero pixels", hugePNG(t, 0, 10), ""},
		{"jpeg cut before its end", jpegData[:len(jpegData)-20], ""},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF, 0xE0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := attachment.Sniff(tc.data)
			if tc.want == "" {
				require.ErrorIs(t, err, attachment.ErrUnsupported, "got type %q, want refused", got)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "got %q, want %q", got, tc.want)
		})
	}
}

func TestSniffIgnoresTheNameAPNGRenamedPDFIsAPNG(t *testing.T) {
	typ, err := attachment.Sniff(pngFile(t))
	require.NoError(t, err)
	assert.Equal(t, attachment.PNG, typ)
	assert.Equal(t, "scan.png", attachment.Name("scan.pdf", typ))
	assert.True(t, attachment.Inline(typ))
	assert.False(t, attachment.Inline(attachment.PDF))
}

func TestName(t *testing.T) {
	long := strings.Repeat("تقرير", 100) + ".pdf"
	for _, tc := range []struct {
		name, declared, typ, want string
	}{
		{"plain", "cbc-results.pdf", attachment.PDF, "cbc-results.pdf"},
		{"arabic", "تقرير الدم.pdf", attachment.PDF, "تقرير الدم.pdf"},
		{"hebrew", "צילום חזה.jpg", attachment.JPEG, "צילום חזה.jpg"},
		{"unix path", "../../etc/passwd", attachment.PDF, "passwd.pdf"},
		{"windows path", `C:\Users\clinic\Desktop\report.PDF`, attachment.PDF, "report.PDF"},
		{"jpeg spelling kept", "photo.jpeg", attachment.JPEG, "photo.jpeg"},
		{"wrong accepted extension replaced", "scan.pdf", attachment.JPEG, "scan.jpg"},
		{"other extension kept, right one added", "notes.exe", attachment.PDF, "notes.exe.pdf"},
		{"no extension", "report", attachment.PNG, "report.png"},
		{"right-to-left override dropped", "invoice\u202Egpj.exe", attachment.JPEG, "invoicegpj.exe.jpg"},
		{"zero-width characters dropped", "re\u200Bport\uFEFF.pdf", attachment.PDF, "report.pdf"},
		{"control characters", "a\x00b\x1b[31m\nc.png", attachment.PNG, "ab[31m c.png"},
		{"characters file systems refuse", `<script>"x"|?*.pdf`, attachment.PDF, "_script__x____.pdf"},
		{"hidden file", ".htaccess", attachment.PDF, "htaccess.pdf"},
		{"dots only", "...", attachment.PDF, "attachment.pdf"},
		{"empty", "", attachment.JPEG, "attachment.jpg"},
		{"path only", "dir/", attachment.PDF, "attachment.pdf"},
		{"spaces collapsed", "  lab \t results .pdf ", attachment.PDF, "lab results.pdf"},
		{"invalid utf-8", "lab\xff\xfe.pdf", attachment.PDF, "lab.pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := attachment.Name(tc.declared, tc.typ)
			assert.Equal(t, tc.want, got, "Name(%q): got %q, want %q", tc.declared, got, tc.want)
		})
	}
	t.Run("long", func(t *testing.T) {
		got := attachment.Name(long, attachment.PDF)
		assert.Equal(t, attachment.MaxName, utf8.RuneCountInString(got), "got %d characters, want %d", utf8.RuneCountInString(got), attachment.MaxName)
		assert.True(t, strings.HasSuffix(got, ".pdf"), "got %q, want a .pdf name", got)
	})
}
