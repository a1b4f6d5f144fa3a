package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sync"
)

// gzipWriters are reused: a gzip writer allocates about a megabyte of
// compressor state, which per message dominated the cost of ingest.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// CompressRaw is how raw messages are kept: gzipped, fast level.
func CompressRaw(raw []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	zw.Write(raw)
	zw.Close() // writing to memory cannot fail
	return buf.Bytes()
}

// storeRaw keeps a message's exact bytes and returns the row id; gz is
// raw already compressed, or nil.
func storeRaw(ctx context.Context, t *tx, raw, gz []byte) (int64, error) {
	if gz == nil {
		gz = CompressRaw(raw)
	}
	id, err := t.nextID(ctx, "raw_messages")
	if err != nil {
		return 0, err
	}
	t.collect(insertRaw, id, int64(len(raw)), gz)
	return id, nil
}

// RawMessage returns a stored message's original bytes.
func (s *Store) RawMessage(ctx context.Context, id int64) ([]byte, error) {
	var gz []byte
	if err := s.fetchQ.RawMessage.GetContext(ctx, &gz, id); err != nil {
		return nil, fmt.Errorf("read raw message %d: %w", id, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("decompress raw message %d: %w", id, err)
	}
	return io.ReadAll(zr)
}
