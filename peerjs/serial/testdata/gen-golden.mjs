// gen-golden.mjs records how the real PeerJS 1.5.4 DataConnection
// serializations (node_modules/peerjs/dist/bundler.cjs) put values on a data
// channel, and what they make of received frames.
//
//   cd /work/main && node peerjs/serial/testdata/gen-golden.mjs > peerjs/serial/testdata/golden.json
//
// The bundle loads in node. A Peer is constructed only to read its
// _serializers table (in node it reports "browser-incompatible" and opens
// nothing). Connections are made with Object.create(Class.prototype), so no
// WebRTC negotiation runs, and given a fake open data channel that records
// what send() hands to RTCDataChannel.send. So the frames below come from
// PeerJS's own _send / BinaryPackChunker / JSON code and the real BinaryPack,
// and received frames go through PeerJS's own _handleDataMessage.
//
// Values use the tagged form of peerjs/binarypack/testdata/gen-golden.mjs:
//   null | true | false | {"undef":true} | {"int":"<decimal>"} |
//   {"float":"<IEEE bits hex>"} | {"str":"..."} | {"strRep":["unit",count]} |
//   {"strCat":[strings...]} | {"bin":"<base64>"} |
//   {"arr":[...]} | {"map":[[key,value],...]} | {"close":true} (CloseRequest)
// Frames are {"text":bool, "hex":"..."} with runs compressed as "(hh*count)".
//
// encode cases: "values" are sent in order on one fresh connection; "frames"
// are everything PeerJS sent, "errors" the error events (by value index).
// decode cases: "frames" are fed in order to one fresh connection; "js" is
// what PeerJS did (data events, close() calls, exceptions), "go" what the Go
// codec does for each frame: {"value":tagged} | {"pending":true} | {"err":"malformed"|...}.
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(path.resolve("node_modules") + "/");
const peerjs = require("./node_modules/peerjs/dist/bundler.cjs".replace("./node_modules/", path.resolve("node_modules") + "/"));
const { pack, unpack } = require("peerjs-js-binarypack");

const peer = new peerjs.Peer({ debug: 0 });
peer.on("error", () => {}); // browser-incompatible in node: expected
const serializers = peer._serializers;
const Chunker = Object.getPrototypeOf(peerjs.util.constructor); // BinaryPackChunker

// ---- tagged values (see binarypack's generator) --------------------------
const I = (n) => ({ int: typeof n === "number" ? BigInt(n).toString() : String(n) });
const F = (x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return { float: b.toString("hex") };
};
const S = (s) => ({ str: s });
const SR = (unit, count) => ({ strRep: [unit, count] });
const SC = (...parts) => ({ strCat: parts });
const B = (bytes) => ({ bin: Buffer.from(bytes).toString("base64") });
const A = (...items) => ({ arr: items });
const M = (...pairs) => ({ map: pairs });
const U = { undef: true };

function toJS(t) {
  if (t === null || typeof t === "boolean") return t;
  if (t.undef) return undefined;
  if ("int" in t) return Number(BigInt(t.int));
  if ("float" in t) return Buffer.from(t.float, "hex").readDoubleBE(0);
  if ("str" in t) return t.str;
  if ("strRep" in t) return t.strRep[0].repeat(t.strRep[1]);
  if ("strCat" in t) return t.strCat.map(toJS).join("");
  if ("bin" in t) return new Uint8Array(Buffer.from(t.bin, "base64")).buffer;
  if ("arr" in t) return t.arr.map(toJS);
  if ("map" in t) {
    const o = {};
    for (const [k, v] of t.map) o[toJS(k)] = toJS(v);
    return o;
  }
  throw new Error("bad tag " + JSON.stringify(t));
}

function jsView(v) {
  if (v === null || typeof v === "boolean") return v;
  if (v === undefined) return { undef: true };
  if (typeof v === "number") return { num: F(v).float };
  if (typeof v === "string") return { str: v };
  if (v instanceof ArrayBuffer) return { bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return { arr: v.map(jsView) };
  return { map: Object.keys(v).map((k) => [{ str: k }, jsView(v[k])]) };
}

function hexOf(bytes) {
  const h = Buffer.from(bytes).toString("hex");
  let out = "";
  for (let i = 0; i < h.length; ) {
    const byte = h.slice(i, i + 2);
    let j = i;
    while (j < h.length && h.slice(j, j + 2) === byte) j += 2;
    const n = (j - i) / 2;
    out += n > 32 ? `(${byte}*${n})` : h.slice(i, j);
    i = j;
  }
  return out;
}

function frameOf(m) {
  if (typeof m === "string") return { text: true, hex: hexOf(Buffer.from(m, "utf8")) };
  if (m instanceof ArrayBuffer) return { text: false, hex: hexOf(new Uint8Array(m)) };
  if (ArrayBuffer.isView(m)) return { text: false, hex: hexOf(new Uint8Array(m.buffer, m.byteOffset, m.byteLength)) };
  // What a browser's RTCDataChannel.send does with any other object.
  return { text: true, hex: hexOf(Buffer.from(String(m))), note: "not a string or buffer: a browser sends String(value)" };
}

function bytesOfFrame(f) {
  const parts = [];
  const re = /\(([0-9a-f]{2})\*(\d+)\)|([0-9a-f]+)/g;
  let m;
  while ((m = re.exec(f.hex))) {
    if (m[3]) parts.push(Buffer.from(m[3], "hex"));
    else parts.push(Buffer.alloc(Number(m[2]), parseInt(m[1], 16)));
  }
  const b = Buffer.concat(parts);
  return f.text ? b.toString("utf8") : new Uint8Array(b).buffer;
}

// ---- a PeerJS connection without WebRTC ----------------------------------
function connection(serialization) {
  const Cls = serializers[serialization];
  const c = Object.create(Cls.prototype);
  // Fields the constructors would set.
  c._buffer = [];
  c._bufferSize = 0;
  c._buffering = false;
  c._open = true;
  c.connectionId = "dc_golden";
  c._events = Object.create(null); // eventemitter3 state
  c._eventsCount = 0;
  c.chunker = new Chunker();
  c._chunkedData = {};
  c.stringify = JSON.stringify;
  c.parse = JSON.parse;
  c.encoder = new TextEncoder();
  c.decoder = new TextDecoder();
  const rec = { sent: [], errors: [], data: [], closes: 0 };
  c.dataChannel = { bufferedAmount: 0, send: (m) => rec.sent.push(m) };
  c.on("error", (e) => rec.errors.push(e.type));
  c.on("data", (d) => rec.data.push(d));
  // close() without flush tears the connection down; only count it.
  c.close = (opts) => (opts?.flush ? Cls.prototype.close.call(c, opts) : rec.closes++);
  return { c, rec };
}

const cases = [];

function encode(name, serialization, values, opts = {}) {
  const { c, rec } = connection(serialization);
  const errors = [];
  values.forEach((v, i) => {
    const before = rec.errors.length;
    if (v === "CLOSE") c.close({ flush: true });
    else c.send(toJS(v));
    if (rec.errors.length > before) errors.push({ index: i, error: rec.errors[rec.errors.length - 1] });
  });
  const out = { name, kind: "encode", serialization, values, frames: rec.sent.map(frameOf) };
  if (errors.length) out.errors = errors;
  if (opts.note) out.note = opts.note;
  cases.push(out);
  return out;
}

// decode feeds frames to PeerJS; go lists what the Go codec returns for each.
function decode(name, serialization, frames, go, opts = {}) {
  const { c, rec } = connection(serialization);
  const js = { data: [], closes: 0 };
  for (const f of frames) {
    try {
      c._handleDataMessage({ data: bytesOfFrame(f) });
    } catch (e) {
      js.threw = `${e.constructor.name}: ${e.message}`;
      break;
    }
  }
  js.data = rec.data.map(jsView);
  js.closes = rec.closes;
  // Check the Go expectations against what PeerJS emitted, unless told not to.
  if (!opts.jsDiffers) {
    const goValues = go.filter((g) => "value" in g).map((g) => g.value);
    const goData = goValues.filter((v) => !(v && v.close)).map((v) => jsView(toJS(v)));
    const goCloses = goValues.filter((v) => v && v.close).length;
    if (JSON.stringify(goData) !== JSON.stringify(js.data) || goCloses !== js.closes || js.threw) {
      throw new Error(`${name}: PeerJS did ${JSON.stringify(js).slice(0, 400)}`);
    }
  } else if (!opts.note) {
    throw new Error(`${name}: explain the difference`);
  }
  const out = { name, kind: "decode", serialization, frames, go, js };
  if (opts.note) out.note = opts.note;
  cases.push(out);
}

// ---- values --------------------------------------------------------------
const chat = A(I(0), S("3f1c2a4e-8b7d-4c1e-9f2a-5b6c7d8e9f00"), S("name"), S("héllo 👋"), null, null);
const room = A(I(1), I(1), A(A(S("a"), I(2), A())), I(3), S("title"), true, null, S("host-id"), F(4.5));
// Packed sizes: a string of L >= 16 bytes packs to L + 3 bytes.
const packed16300 = SR("p", 16297);
const packed16301 = SR("q", 16298);
// 40000 bytes with markers across the piece boundaries (packed offsets 16300, 32600).
const big40000 = SC(SR("x", 16290), S("0123456789"), SR("y", 16290), S("0123456789"), SR("z", 40000 - 32600));

// ---- binary ----------------------------------------------------------------
encode("binary chat", "binary", [chat]);
encode("binary room map", "binary", [room]);
const seq = encode("binary chunk counter", "binary", [packed16300, packed16301, chat, big40000], {
  note: "16300 packed bytes is one frame; 16301 is chunked (__peerData 1, two pieces); the small message takes no id; the 40000-byte string is __peerData 2, three pieces",
});
encode("binary close", "binary", ["CLOSE"]);
encode("binary-utf8 chat", "binary-utf8", [chat]);

const bigFrames = seq.frames.slice(4); // the 40000-byte string's three chunks
decode("binary chat", "binary", encodeFrames("binary", chat), [{ value: chat }]);
decode("binary chunks in order", "binary", bigFrames, [{ pending: true }, { pending: true }, { value: big40000 }]);
decode("binary chunks reversed", "binary", [...bigFrames].reverse(), [{ pending: true }, { pending: true }, { value: big40000 }]);
decode("binary close", "binary", encodeFrames("binary", "CLOSE"), [{ value: { close: true } }]);
decode("binary falsy __peerData is data", "binary",
  [{ text: false, hex: hexOf(new Uint8Array(pack({ __peerData: 0, x: 1 }))) }],
  [{ value: M([S("__peerData"), I(0)], [S("x"), I(1)]) }]);
decode("binary duplicate chunk", "binary", [bigFrames[0], bigFrames[0], bigFrames[1], bigFrames[2]],
  [{ pending: true }, { err: "malformed" }, { pending: true }, { value: big40000 }], {
    jsDiffers: true,
    note: "PeerJS counts the duplicate as a piece, believes the message complete on the third frame, unpacks only pieces 0 and 1 and throws (read index out of range); the real third piece then starts a new entry that never completes. Go rejects the duplicate and completes with the real third piece",
  });

// ---- json ------------------------------------------------------------------
encode("json chat", "json", [chat]);
encode("json room map", "json", [room]);
encode("json close", "json", ["CLOSE"]);
encode("json numbers", "json", [A(F(0.1), F(1e21), F(1e-7), F(123456789012345680000), F(-0), F(1.5e-10), F(5e-324),
  F(1.7976931348623157e308), I(100), F(4.5), I(2 ** 53), F(-1e-6), F(1e20), F(NaN), F(Infinity), F(2.5e-7), F(0.000001))]);
encode("json strings", "json", [A(S("quote\" backslash\\ slash/ <script>&"), S("\b\f\n\r\t\u0000\u001f\u007f"), S("\u2028\u2029 é 👋"))]);
encode("json undefined", "json", [A(U, I(1)), M([S("a"), U], [S("b"), I(2)])], {
  note: "undefined array items become null, undefined members are left out",
});
encode("json size limit", "json", [SR("y", 16297), SR("y", 16298)], {
  note: "JSON of 16299 bytes is sent; 16300 bytes is refused with message-too-big",
});

decode("json document order", "json", [{ text: false, hex: hexOf(Buffer.from('{"b":1,"a":[1,2.5,"x",true,null],"c":{"d":-3}}')) }],
  [{ value: M([S("b"), I(1)], [S("a"), A(I(1), F(2.5), S("x"), true, null)], [S("c"), M([S("d"), I(-3)])]) }]);
decode("json text frame", "json", [{ text: true, hex: hexOf(Buffer.from('["héllo 👋"]')) }], [{ value: A(S("héllo 👋")) }], {
  jsDiffers: true,
  note: "PeerJS passes a text frame's string to TextDecoder.decode, which throws: a PeerJS json receiver only takes binary frames; Go accepts both",
});
decode("json numbers", "json", [{ text: false, hex: hexOf(Buffer.from("[1,1.0,1e2,-5,12345678901234567890,0.1,1e400,-0.0]")) }],
  [{ value: A(I(1), F(1), F(100), I(-5), F(12345678901234567890), F(0.1), F(Infinity), F(-0)) }]);
decode("json byte order mark", "json", [{ text: false, hex: hexOf(Buffer.from('\ufeff{"a":1}')) }], [{ value: M([S("a"), I(1)]) }]);
decode("json close", "json", encodeFrames("json", "CLOSE"), [{ value: { close: true } }]);
decode("json other __peerData is data", "json", [{ text: false, hex: hexOf(Buffer.from('{"__peerData":5}')) }],
  [{ value: M([S("__peerData"), I(5)]) }]);

// ---- raw -------------------------------------------------------------------
encode("raw string and bytes", "raw", [S("héllo"), B([0, 1, 2, 255])]);
decode("raw frames", "raw", [{ text: true, hex: hexOf(Buffer.from("héllo")) }, { text: false, hex: "000102ff" }],
  [{ value: S("héllo") }, { value: B([0, 1, 2, 255]) }]);

function encodeFrames(serialization, v) {
  const { c, rec } = connection(serialization);
  if (v === "CLOSE") c.close({ flush: true });
  else c.send(toJS(v));
  return rec.sent.map(frameOf);
}

process.stdout.write(`{"generator":"peerjs/serial/testdata/gen-golden.mjs","peerjs":"1.5.4","cases":[\n` +
  cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}\n");
