// Package attachment decides what an uploaded file is, by its content alone: a PDF, a JPEG or a
// PNG, or something the broker refuses. It also makes the name the uploader gave safe to store
// and to offer back for download. The declared media type and the name's extension never
// decide anything: a browser or a script may say whatever it likes about a file.
package attachment

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Media types of the files the broker accepts.
const (
	PDF  = "application/pdf"
	JPEG = "image/jpeg"
	PNG  = "image/png"
)

// Limits on an upload.
const (
	// MaxSize is the largest file accepted, in bytes.
	MaxSize = 10 << 20
	// MaxPixels bounds an image's width × height, so that no viewer is asked to inflate a
	// small file into gigabytes of pixels.
	MaxPixels = 60_000_000
	// MaxName is the longest stored file name, in characters.
	MaxName = 200
	// trailer is how close to the end a PDF's %%EOF or a JPEG's end-of-image marker must be.
	trailer = 1024
)

// ErrUnsupported means the content is not a well-formed PDF, JPEG or PNG file.
var ErrUnsupported = errors.New("not a PDF, JPEG or PNG file")

var (
	pdfMagic  = []byte("%PDF-")
	pdfEOF    = []byte("%%EOF")
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	jpegEOI   = []byte{0xFF, 0xD9}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	// pngIEND is the image-end chunk a PNG file finishes with: zero length, type, CRC.
	pngIEND = []byte("\x00\x00\x00\x00IEND\xaeB`\x82")
)

// Sniff returns the media type of data, decided by its content: PDF, JPEG or PNG. Anything else,
// including a file that only starts like one of them (a truncated image, an image too large to
// show, a polyglot that hides behind other leading bytes), is ErrUnsupported, wrapped with the
// reason.
func Sniff(data []byte) (string, error) {
	switch {
	case len(data) == 0:
		return "", fmt.Errorf("%w: empty", ErrUnsupported)
	case bytes.HasPrefix(data, pdfMagic):
		if !bytes.Contains(tail(data), pdfEOF) {
			return "", fmt.Errorf("%w: PDF without %%%%EOF near its end", ErrUnsupported)
		}
		return PDF, nil
	case bytes.HasPrefix(data, jpegMagic):
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", fmt.Errorf("%w: JPEG: %v", ErrUnsupported, err)
		}
		if err := checkSize(cfg); err != nil {
			return "", err
		}
		if !bytes.Contains(tail(data), jpegEOI) {
			return "", fmt.Errorf("%w: JPEG without its end-of-image marker", ErrUnsupported)
		}
		return JPEG, nil
	case bytes.HasPrefix(data, pngMagic):
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", fmt.Errorf("%w: PNG: %v", ErrUnsupported, err)
		}
		if err := checkSize(cfg); err != nil {
			return "", err
		}
		if !bytes.HasSuffix(data, pngIEND) {
			return "", fmt.Errorf("%w: PNG does not end with its IEND chunk", ErrUnsupported)
		}
		return PNG, nil
	}
	return "", fmt.Errorf("%w: unknown content", ErrUnsupported)
}

func tail(data []byte) []byte {
	if len(data) > trailer {
		return data[len(data)-trailer:]
	}
	return data
}

func checkSize(cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%w: image of %d×%d pixels", ErrUnsupported, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return fmt.Errorf("%w: image of %d×%d pixels is over %d", ErrUnsupported, cfg.Width, cfg.Height, MaxPixels)
	}
	return nil
}

// Extension returns the file name extension for media type typ ("" for other types).
func Extension(typ string) string {
	switch typ {
	case PDF:
		return ".pdf"
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	}
	return ""
}

// knownExtension maps the extensions of accepted types to their media type.
var knownExtension = map[string]string{".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".jpe": JPEG, ".png": PNG}

// Inline reports whether a file of media type typ may be shown in the browser rather than
// downloaded: images may, PDFs (which can carry scripts and forms) are saved.
func Inline(typ string) bool { return typ == JPEG || typ == PNG }

// Name returns a safe name for a file of media type typ that its uploader called declared: no
// directories, no control or invisible formatting characters (which can disguise an extension),
// none of the characters file systems refuse, at most MaxName characters, and an extension that
// says what the content is. It never returns "".
func Name(declared, typ string) string {
	if !utf8.ValidString(declared) {
		declared = strings.ToValidUTF8(declared, "")
	}
	if i := strings.LastIndexAny(declared, `/\`); i >= 0 {
		declared = declared[i+1:]
	}
	var b strings.Builder
	for _, r := range declared {
		switch {
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			// dropped: invisible, or able to reorder what the reader sees
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.Join(strings.Fields(b.String()), " ")
	name = strings.TrimLeft(name, ". ")
	ext := Extension(typ)
	if have := path.Ext(name); knownExtension[strings.ToLower(have)] != "" {
		// An extension of an accepted type: the content decides which one the file gets.
		if knownExtension[strings.ToLower(have)] == typ {
			ext = have // the uploader's spelling of the right one
		}
		name = strings.TrimSuffix(name, have)
	}
	base := strings.TrimRight(name, ". ")
	if base == "" {
		base = "attachment"
	}
	if n := MaxName - utf8.RuneCountInString(ext); utf8.RuneCountInString(base) > n {
		base = strings.TrimRight(string([]rune(base)[:n]), ". ")
	}
	return base + ext
}
