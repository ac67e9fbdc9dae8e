// Package serial implements how PeerJS 1.5.4 DataConnection serializations
// put values on a data channel: bytes in, values out, no I/O.
//
// A PeerJS DataConnection announces its serialization in the OFFER
// ("binary", "binary-utf8", "json", "raw"; "default" means binary). Each
// one is a Codec here:
//
//   - binary: one BinaryPack value per binary frame. A packed value longer
//     than ChunkMTU (16300) bytes is cut into pieces of at most ChunkMTU
//     bytes, each sent as the BinaryPack map
//     {__peerData: <message counter>, n: <index>, data: <piece>, total: <count>},
//     because Firefox-to-Chrome SCTP delivery splits larger messages.
//   - json: JSON.stringify text sent as a binary frame, refused from
//     ChunkMTU bytes on (no chunking).
//   - raw: strings as text frames, bytes as binary frames, nothing else.
//
// Values use the binarypack value model (int64, float64, string, []byte,
// []any, binarypack.Map, nil, bool, binarypack.Undefined) for every
// serialization, so callers handle one set of types.
//
// The polite close PeerJS sends for close({flush: true}),
// {__peerData: {type: "close"}}, decodes as CloseRequest.
//
// Where PeerJS's receiver would throw or leak on hostile input (duplicate
// or out-of-range chunk indexes, a chunk message that never completes, a
// piece count that disagrees between pieces), this package returns an error
// that errors.Is can test, and bounds memory by Options.
//
// Memory held between frames (pieces of chunked messages) is charged in
// full, bookkeeping included, never sized by what a sender claims: to
// MaxPendingBytes per codec and, with Options.Shared, to one Budget for all
// connections. The owner of a connection calls Release (see Releaser) on
// its decoding codec when the connection closes, so that what a vanished
// connection held is given back to the shared Budget.
package serial
