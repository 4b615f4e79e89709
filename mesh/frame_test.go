package mesh_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
)

func TestFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{
		{},
		{0},
		[]byte("hello"),
		bytes.Repeat([]byte{'a'}, 127), // largest one-byte length
		bytes.Repeat([]byte{'b'}, 128), // smallest two-byte length
		bytes.Repeat([]byte{'c'}, 300),
		bytes.Repeat([]byte{0xff}, 1<<16),
	}
	var buf bytes.Buffer
	for _, p := range payloads {
		if err := mesh.WriteFrame(&buf, p); err != nil {
			t.Fatalf("WriteFrame(%d bytes): %v", len(p), err)
		}
	}
	r := bufio.NewReader(&buf)
	for i, p := range payloads {
		got, err := mesh.ReadFrame(r, 1<<16)
		if err != nil {
			t.Fatalf("frame %d: ReadFrame: %v", i, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("frame %d: read %d bytes, want %d bytes as written", i, len(got), len(p))
		}
	}
	if _, err := mesh.ReadFrame(r, 1<<16); err != io.EOF {
		t.Fatalf("ReadFrame after the last frame: %v, want io.EOF", err)
	}
}

func TestWriteFrameEncoding(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		header  []byte
	}{
		{"empty", nil, []byte{0x00}},
		{"5 bytes", []byte("hello"), []byte{0x05}},
		{"127 bytes", make([]byte, 127), []byte{0x7f}},
		{"128 bytes", make([]byte, 128), []byte{0x80, 0x01}},
		{"300 bytes", make([]byte, 300), []byte{0xac, 0x02}},
		{"16384 bytes", make([]byte, 16384), []byte{0x80, 0x80, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := mesh.WriteFrame(&buf, tt.payload); err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte{}, tt.header...), tt.payload...)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("WriteFrame wrote % x..., want header % x then the payload", buf.Bytes()[:min(8, buf.Len())], tt.header)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteFrameError(t *testing.T) {
	if err := mesh.WriteFrame(failingWriter{}, []byte("x")); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("WriteFrame to a failing writer = %v, want its error", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		limit   int
		wantErr string // substring of the error
		wantIs  error  // errors.Is target, when set
		want    []byte // for the accepted cases
		ok      bool   // whether the frame is accepted
	}{
		{name: "at the limit", in: append([]byte{10}, "0123456789"...), limit: 10, ok: true, want: []byte("0123456789")},
		{name: "over the limit", in: append([]byte{11}, "0123456789a"...), limit: 10, wantErr: "frame of 11 bytes exceeds the limit of 10"},
		{name: "huge length is refused before allocating", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, limit: 1 << 20, wantErr: "exceeds the limit"},
		{name: "zero limit accepts only empty frames", in: []byte{0}, limit: 0, ok: true, want: []byte{}},
		{name: "zero limit", in: []byte{1, 'x'}, limit: 0, wantErr: "exceeds the limit of 0"},
		{name: "truncated body", in: append([]byte{10}, "01234"...), limit: 100, wantErr: "reading frame of 10 bytes", wantIs: io.ErrUnexpectedEOF},
		{name: "missing body", in: []byte{3}, limit: 100, wantErr: "reading frame of 3 bytes", wantIs: io.EOF},
		{name: "truncated length", in: []byte{0x80}, limit: 100, wantIs: io.ErrUnexpectedEOF},
		{name: "empty stream", in: nil, limit: 100, wantIs: io.EOF},
		{name: "length overflows 64 bits", in: bytes.Repeat([]byte{0xff}, 11), limit: 100, wantErr: "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mesh.ReadFrame(bufio.NewReader(bytes.NewReader(tt.in)), tt.limit)
			if tt.ok {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("ReadFrame = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadFrame = %q, want an error", got)
			}
			if got != nil {
				t.Fatalf("ReadFrame returned %d bytes along with %v", len(got), err)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadFrame error = %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("ReadFrame error = %v, want errors.Is %v", err, tt.wantIs)
			}
		})
	}
}

func TestMsgRoundTrip(t *testing.T) {
	bid := job.Bid{
		V: job.Version, Job: job.ModuleCID([]byte("j")).String(), Provider: "12D3KooWP",
		Price: 42, Rates: job.Rates{CPUHour: 7}, Region: "eu-west", ExpiresMS: 99,
	}
	var buf bytes.Buffer
	if err := mesh.WriteMsg(&buf, &bid); err != nil {
		t.Fatal(err)
	}
	invalid := bid
	invalid.Provider = ""
	if err := mesh.WriteMsg(&buf, &invalid); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	var got job.Bid
	if err := mesh.ReadMsg(r, job.MaxGossipSize, &got); err != nil {
		t.Fatalf("ReadMsg: %v", err)
	}
	if got != bid {
		t.Fatalf("ReadMsg = %+v, want %+v", got, bid)
	}
	var bad job.Bid
	if err := mesh.ReadMsg(r, job.MaxGossipSize, &bad); err == nil || !strings.Contains(err.Error(), "provider:") {
		t.Fatalf("ReadMsg of an invalid bid = %v, want a validation error naming provider", err)
	}
	var none job.Bid
	if err := mesh.ReadMsg(r, job.MaxGossipSize, &none); err != io.EOF {
		t.Fatalf("ReadMsg at the end = %v, want io.EOF", err)
	}
	t.Run("frame over the message limit", func(t *testing.T) {
		var buf bytes.Buffer
		_ = mesh.WriteMsg(&buf, &bid)
		var got job.Bid
		if err := mesh.ReadMsg(bufio.NewReader(&buf), 10, &got); err == nil || !strings.Contains(err.Error(), "exceeds the limit of 10") {
			t.Fatalf("ReadMsg = %v, want a limit error", err)
		}
	})
}

// FuzzReadFrame checks that ReadFrame never panics, never returns more than
// its limit, returns exactly the bytes after the length prefix, and that a
// frame it read writes back and reads again unchanged.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0}, uint16(16))
	f.Add(append([]byte{5}, "hello"...), uint16(16))
	f.Add(append([]byte{5}, "hel"...), uint16(16))
	f.Add(append([]byte{0x80, 0x01}, make([]byte, 128)...), uint16(200))
	f.Add([]byte{0x80, 0x00}, uint16(16)) // non-minimal zero length
	f.Add(bytes.Repeat([]byte{0xff}, 12), uint16(16))
	f.Add(append([]byte{20}, make([]byte, 20)...), uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, limit16 uint16) {
		limit := int(limit16)
		src := bytes.NewReader(data)
		br := bufio.NewReaderSize(src, 16)
		got, err := mesh.ReadFrame(br, limit)
		if err != nil {
			if got != nil {
				t.Fatalf("ReadFrame returned %d bytes along with %v", len(got), err)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("ReadFrame returned %d bytes over the limit of %d", len(got), limit)
		}
		consumed := len(data) - src.Len() - br.Buffered()
		if consumed < len(got)+1 || !bytes.Equal(data[consumed-len(got):consumed], got) {
			t.Fatalf("ReadFrame returned %q, not the %d bytes before offset %d of %q", got, len(got), consumed, data)
		}
		var buf bytes.Buffer
		if err := mesh.WriteFrame(&buf, got); err != nil {
			t.Fatal(err)
		}
		again, err := mesh.ReadFrame(bufio.NewReader(&buf), limit)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("rewritten frame read back as %q, %v; want %q", again, err, got)
		}
	})
}
