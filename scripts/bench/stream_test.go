package main

import "testing"

func TestScanHead(t *testing.T) {
	for _, tc := range []struct {
		in       string
		typ, id  string
		fastPath bool
	}{
		{`{"seq":42,"type":"consult.requested","consult_id":"01J0","at":"2026-01-01T00:00:00Z","consult":{"type":"x"}}`, "consult.requested", "01J0", true},
		{` { "seq" : 1 , "consult_id" : "a" , "type" : "consult.offered" , "consult" : {} }`, "consult.offered", "a", true},
		{`{"seq":1,"at":null,"ok":true,"type":"t","consult_id":"c"}`, "t", "c", true},
		// The consult before the fields, an escape, a cut-off head: the caller decodes in full.
		{`{"consult":{"type":"no","consult_id":"no"},"type":"t","consult_id":"c"}`, "", "", false},
		{`{"type":"consult.\u0072equested","consult_id":"c"}`, "", "", false},
		{`{"seq":1,"type":"consult.requested","consult_`, "", "", false},
		{`[]`, "", "", false},
	} {
		typ, id, ok := scanHead([]byte(tc.in))
		if ok != tc.fastPath || string(typ) != tc.typ || string(id) != tc.id {
			t.Errorf("scanHead(%s) = %q, %q, %v; want %q, %q, %v", tc.in, typ, id, ok, tc.typ, tc.id, tc.fastPath)
		}
	}
}

func TestScanHeadAllocates(t *testing.T) {
	frame := []byte(`{"seq":42,"type":"consult.requested","consult_id":"01J0ABCDEFGHJKMNPQRSTVWXYZ","at":"2026-01-01T00:00:00Z","consult":{}}`)
	if n := testing.AllocsPerRun(100, func() { scanHead(frame) }); n != 0 {
		t.Errorf("scanHead allocates %v times per frame", n)
	}
}
