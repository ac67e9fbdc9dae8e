// gen-golden.mjs builds the BinaryPack golden vectors from the real npm
// peerjs-js-binarypack 2.1.0 (resolved from /work/main/node_modules).
//
//   cd /work/main && node peerjs/binarypack/testdata/gen-golden.mjs > peerjs/binarypack/testdata/golden.json
//
// Each case describes a value in a tagged JSON form that Go rebuilds exactly:
//   null | true | false | {"undef":true} | {"int":"<decimal>"} |
//   {"float":"<16 hex digits of the IEEE-754 bits>"} | {"str":"..."} |
//   {"strRep":["unit",count]} | {"bin":"<base64>"} | {"binRep":[byte,count]} |
//   {"arr":[...]} | {"arrRep":[item,count]} | {"map":[[key,value],...]} |
//   {"mapSeq":count} (keys "k00000", "k00001", ... with values 0, 1, ...)
//
// Case fields:
//   name     unique name
//   kind     "pack": value was packed by JS here; "decode": hex written by hand
//   value    pack cases: the value given to pack; decode cases: what Go's
//            Unpack must return
//   hex      the bytes (pack cases: JS pack output). Runs are compressed as
//            "(hh*count)"; spaces are insignificant.
//   decoded  what Go's Unpack(hex) returns when that differs from value
//   goHex    what Go's Pack(value) writes when it deliberately differs from JS
//   packError JS pack threw this message (hex is then absent)
//   jsUnpackAgrees  whether JS unpack(hex) gives the same JS value as the Go
//            decoded value converted to a JS value (numbers as doubles).
//            The script fails unless this matches the declared expectation,
//            so every disagreement below is intentional and explained in note.
//   jsUnpack the JS unpack result when it disagrees (numbers as {"num":bits})
//   note     why a case is special
import { createRequire } from "node:module";
import path from "node:path";
import { readFileSync } from "node:fs";
const require = createRequire(path.resolve("node_modules") + "/");
const { pack, unpack } = require("peerjs-js-binarypack");

// ---- tagged values -------------------------------------------------------
const I = (n) => ({ int: typeof n === "number" ? BigInt(n).toString() : String(n) });
const F = (x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return { float: b.toString("hex") };
};
const S = (s) => ({ str: s });
const SR = (unit, count) => ({ strRep: [unit, count] });
const B = (bytes) => ({ bin: Buffer.from(bytes).toString("base64") });
const BR = (byte, count) => ({ binRep: [byte, count] });
const A = (...items) => ({ arr: items });
const M = (...pairs) => ({ map: pairs });
const U = { undef: true };

function bitsToFloat(hex) {
  return Buffer.from(hex, "hex").readDoubleBE(0);
}

// toJS builds the JS value the tagged description stands for.
function toJS(t) {
  if (t === null || typeof t === "boolean") return t;
  if (t.undef) return undefined;
  if ("int" in t) return Number(BigInt(t.int));
  if ("float" in t) return bitsToFloat(t.float);
  if ("str" in t) return t.str;
  if ("strRep" in t) return t.strRep[0].repeat(t.strRep[1]);
  if ("bin" in t) return new Uint8Array(Buffer.from(t.bin, "base64")).buffer;
  if ("binRep" in t) return new Uint8Array(t.binRep[1]).fill(t.binRep[0]).buffer;
  if ("arr" in t) return t.arr.map(toJS);
  if ("arrRep" in t) return new Array(t.arrRep[1]).fill(toJS(t.arrRep[0]));
  if ("mapSeq" in t) return toJS({ map: kv(t.mapSeq) });
  if ("map" in t) {
    const o = {};
    for (const [k, v] of t.map) o[toJS(k)] = toJS(v);
    return o;
  }
  throw new Error("bad tag " + JSON.stringify(t));
}

// normalize is what Go's Unpack returns for a packed value: undefined was
// written as null.
function normalize(t) {
  if (t === null || typeof t !== "object") return t;
  if (t.undef) return null;
  if ("arr" in t) return { arr: t.arr.map(normalize) };
  if ("arrRep" in t) return { arrRep: [normalize(t.arrRep[0]), t.arrRep[1]] };
  if ("map" in t) return { map: t.map.map(([k, v]) => [normalize(k), normalize(v)]) };
  return t;
}

// jsView describes a JS value with numbers as their double bits, so two
// values can be compared exactly.
function jsView(v) {
  if (v === null || typeof v === "boolean") return v;
  if (v === undefined) return { undef: true };
  if (typeof v === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return { num: b.toString("hex") };
  }
  if (typeof v === "string") return { str: v };
  if (v instanceof ArrayBuffer) return { bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return { arr: v.map(jsView) };
  return { map: Object.keys(v).map((k) => [{ str: k }, jsView(v[k])]) };
}

function hexOf(buf) {
  const h = Buffer.from(buf).toString("hex");
  // Compress runs of one byte longer than 32 as (hh*count).
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

function bytesOf(hex) {
  const parts = [];
  const re = /\(([0-9a-f]{2})\*(\d+)\)|([0-9a-f]+)/g;
  let m;
  const clean = hex.replace(/\s+/g, "");
  while ((m = re.exec(clean))) {
    if (m[3]) parts.push(Buffer.from(m[3], "hex"));
    else parts.push(Buffer.alloc(Number(m[2]), parseInt(m[1], 16)));
  }
  return new Uint8Array(Buffer.concat(parts)).buffer;
}

const cases = [];

// p adds a pack case. opts: goHex, decoded, jsLossy, note.
function p(name, value, opts = {}) {
  const c = { name, kind: "pack", value };
  let buf;
  try {
    buf = pack(toJS(value));
  } catch (e) {
    c.packError = e.message;
  }
  if (buf) c.hex = hexOf(buf);
  if (opts.jsPackBug) {
    // JS's hand-made pack_double wrote other bits than IEEE-754; Go writes
    // the IEEE bits, and reading JS's bytes gives JS's (wrong) number.
    const ieee = "cb" + F(toJS(value)).float;
    if (c.hex === ieee) throw new Error(`${name}: expected a pack_double difference`);
    opts.goHex = ieee;
    opts.decoded = F(unpack(buf));
  }
  if (opts.decoded) c.decoded = opts.decoded;
  if (opts.goHex) c.goHex = opts.goHex;
  if (c.packError && !opts.goHex) c.goSkip = true; // too big to write by hand; Go round-trips it instead
  if (opts.note) c.note = opts.note;
  if (!!c.packError !== !!opts.packError) throw new Error(`${name}: pack error expectation: ${c.packError}`);
  if (buf) checkJS(c, buf, opts.decoded || normalize(value), opts.jsLossy);
  cases.push(c);
}

// d adds a decode-only case: hand-made hex and what Go's Unpack returns.
function d(name, hex, value, opts = {}) {
  const c = { name, kind: "decode", value, hex };
  if (opts.note) c.note = opts.note;
  checkJS(c, bytesOf(hex), value, opts.jsLossy);
  cases.push(c);
}

function checkJS(c, buf, goValue, lossy) {
  const got = jsView(unpack(buf));
  const want = jsView(toJS(goValue));
  const agrees = JSON.stringify(got) === JSON.stringify(want);
  if (agrees === !!lossy) {
    throw new Error(`${c.name}: JS unpack agreement ${agrees}, declared lossy ${!!lossy}: got ${JSON.stringify(got).slice(0, 300)}`);
  }
  c.jsUnpackAgrees = agrees;
  if (!agrees) c.jsUnpack = got;
}

// ---- atoms ---------------------------------------------------------------
p("null", null);
p("undefined", U, { note: "JS packs undefined as 0xc0, so it reads back as null" });
p("true", true);
p("false", false);

// ---- integers: every boundary of the JS order ----------------------------
for (const n of [0, 1, 127, 128, 255, 256, -1, -32, -33, -128, -129, 65535, 65536,
  -32768, -32769, 4294967295, 4294967296, -2147483648, 2147483647,
  9007199254740991, 9007199254740992, -9007199254740992, 9223372036854774784]) {
  p(`int ${n}`, I(n));
}
p("int -2147483649", I(-2147483649), {
  jsLossy: true,
  note: "JS unpack reads int64 through a double of the unsigned value (about 2^64) and returns -2147483648",
});
p("int -5000000000", I(-5000000000), {
  jsLossy: true,
  note: "JS unpack reads int64 through a double of the unsigned value and returns -4999999488",
});
p("int -2^53-ish -9007199254740993 as double", I(-9007199254740992 - 2048), {
  jsLossy: false,
});
p("float 2^63", F(2 ** 63), {
  goHex: "cf8000000000000000",
  decoded: I("-9223372036854775808"),
  jsLossy: false,
  note: "JS checks num <= 0x7fffffffffffffff, which is 2^63 as a double, and writes int64 0x8000000000000000 = -2^63; Go writes uint64",
});
p("float 2^64-2048", F(2 ** 64 - 2048), { note: "largest double below 2^64, uint64 form" });
p("float 2^64", F(2 ** 64), {
  goHex: "cb43f0000000000000",
  decoded: I(0),
  jsLossy: false,
  note: "JS accepts 2^64 as a uint64 and its bit masks turn it into 0; Go writes a float64",
});
p("float 1e300 (integral)", F(1e300), {
  packError: true,
  goHex: "cb7e37e43c8800759c",
  note: "1e300 is integral, so JS tries pack_integer and throws; Go writes a float64",
});
p("float -0", F(-0), { decoded: I(0), note: "-0 is integral: 0x00" });
p("float 2.0 is an integer", F(2), { decoded: I(2) });

// ---- floats ----------------------------------------------------------------
for (const x of [1.5, -1.5, 0.1, -0.1, 3.141592653589793, 1e-300, 2.2250738585072014e-308, 123456.789, 4.5, 0.9999999999999999, 1.0000000000000002]) {
  p(`float ${x}`, F(x));
}
p("float 5e-324 (subnormal)", F(5e-324), {
  jsPackBug: true,
  note: "JS pack_double takes log2 of a subnormal and writes garbage bits; Go writes IEEE bits (which JS reads as 2^-1023 anyway)",
});
for (const x of [4503599627370495.5, -4503599627370495.5, 2 ** -30 * (1 - 2 ** -53)]) {
  p(`float ${x} (just below a power of 2)`, F(x), {
    jsPackBug: true,
    note: "JS pack_double computes the exponent as floor(log(x)/LN2), which rounds up to the next power of 2 here; the fraction goes negative and JS writes the wrong bits (relative error ~2^-20)",
  });
}

// ---- strings -------------------------------------------------------------
p("str empty", S(""));
p("str a", S("a"));
p("str 15 bytes", SR("x", 15));
p("str 16 bytes", SR("x", 16));
p("str 65535 bytes", SR("y", 65535));
p("str 65536 bytes", SR("z", 65536));
p("str unicode", S("héllo 👋"));
p("str cjk", S("日本語テキスト"));
p("str nul and controls", S("a\u0000b\n\t\u007f"));

// ---- binary ----------------------------------------------------------------
p("bin empty", B([]));
p("bin 3", B([0, 1, 255]));
p("bin 15", BR(7, 15));
p("bin 16", BR(8, 16));
p("bin 65535", BR(9, 65535));
p("bin 65536", BR(10, 65536));

// ---- arrays ----------------------------------------------------------------
const AR = (item, count) => ({ arrRep: [item, count] });
const seq = (n) => Array.from({ length: n }, (_, i) => I(i));
p("arr empty", A());
p("arr 15", A(...seq(15)));
p("arr 16", A(...seq(16)));
p("arr 65535", AR(I(1), 65535), {
  packError: true,
  goHex: "dcffff(01*65535)",
  note: "JS pack_array recurses once per item and overflows the stack near 9000 items (node 20)",
});
p("arr 65536", AR(I(1), 65536), { packError: true, goHex: "dd00010000(01*65536)" });
p("arr 1000", AR(I(1), 1000));
d("arr 65536 decode", "dd00010000(01*65536)", AR(I(1), 65536));
p("arr nested", A(A(A(A())), A(S("x"), null), M()));
p("arr with undefined", A(U, I(1)), { note: "undefined items pack as null" });

// ---- maps ----------------------------------------------------------------
function kv(n) {
  return Array.from({ length: n }, (_, i) => [S("k" + String(i).padStart(5, "0")), I(i)]);
}
p("map empty", M());
p("map 1", M([S("a"), I(1)]));
p("map 15", M(...kv(15)));
p("map 16", M(...kv(16)));
p("map 1000", { mapSeq: 1000 });
p("map 65536", { mapSeq: 65536 }, { packError: true, note: "JS pack_object recurses once per entry and overflows the stack near 8700 entries (node 20)" });
p("map nested", M([S("outer"), M([S("inner"), A(I(1), S("two"), null, true)])], [S("z"), false]));
p("map undefined value", M([S("u"), U]));

// ---- P2P-Live-web shapes ---------------------------------------------------
p("chat message", A(I(0), S("3f1c2a4e-8b7d-4c1e-9f2a-5b6c7d8e9f00"), S("name"), S("héllo 👋"), null, null));
p("room map", A(I(1), I(1), A(A(S("a"), I(2), A())), I(3), S("title"), true, null, S("host-id"), F(4.5)));
p("polite close", M([S("__peerData"), M([S("type"), S("close")])]));

// ---- decode-only: tags the JS packer never writes -----------------------
d("0xc1 undefined", "c1", U);
for (const t of ["c4", "c5", "c6", "c7", "c8", "c9", "d4", "d5", "d6", "d7"]) {
  d(`0x${t} undefined`, t, U);
}
d("undefined in array", "93c1d4c0", A(U, U, null));
d("trailing bytes ignored", "0102ff", I(1));
d("fixint 127", "7f", I(127));
d("negative fixint -1", "ff", I(-1));
d("negative fixint -32", "e0", I(-32));
d("float32 1.5", "ca3fc00000", F(1.5));
d("float32 -0.1", "cabdcccccd", F(-0.10000000149011612));
d("float32 max", "ca7f7fffff", F(3.4028234663852886e38));
d("float32 zero bits", "ca00000000", F(2 ** -127), { note: "JS float32 reader has no subnormals: 0 bits read as 2^-127" });
d("float32 -Inf bits", "caff800000", F(-(2 ** 128)), { note: "JS float32 reader: the all-ones exponent is just 2^128" });
d("float64 1.0", "cb3ff0000000000000", F(1), { note: "a float64 tag stays float64 in Go even when integral" });
d("float64 zero bits", "cb0000000000000000", F(2 ** -1023), { note: "JS float64 reader has no zero/subnormals: 0 bits read as 2^-1023 (what JS's NaN packs to)" });
d("float64 -0 bits", "cb8000000000000000", F(-(2 ** -1023)));
d("float64 min subnormal bits", "cb0000000000000001", F(2 ** -1023));
d("float64 +Inf bits", "cb7ff0000000000000", F(Infinity));
d("float64 NaN bits", "cb7ff8000000000000", F(Infinity), { note: "JS float64 reader never yields NaN" });
d("float64 -NaN bits", "cbfff8000000000001", F(-Infinity));
d("uint8 form of 5", "cc05", I(5));
d("uint16 form of 5", "cd0005", I(5));
d("uint32 form of 5", "ce00000005", I(5));
d("uint64 form of 5", "cf0000000000000005", I(5));
d("uint64 max int64", "cf7fffffffffffffff", I("9223372036854775807"), { note: "JS gives the double 2^63, as Number() would" });
d("uint64 2^63", "cf8000000000000000", F(2 ** 63));
d("uint64 max", "cfffffffffffffffff", F(2 ** 64), { note: "above MaxInt64: float64, rounded step by step like JS" });
d("uint64 2^63+1", "cf8000000000000001", F(2 ** 63));
d("int8 form of -1", "d0ff", I(-1));
d("int16 form of -1", "d1ffff", I(-1));
d("int32 form of -1", "d2ffffffff", I(-1));
d("int64 -1", "d3ffffffffffffffff", I(-1), { jsLossy: true, note: "JS reads the unsigned value as the double 2^64 and returns 0" });
d("int64 5", "d30000000000000005", I(5));
d("int64 min", "d38000000000000000", I("-9223372036854775808"));
d("int64 max", "d37fffffffffffffff", I("9223372036854775807"), { jsLossy: true, note: "JS reads it as 2^63, then subtracts 2^64: -2^63" });
d("str16 short", "d80003616263", S("abc"));
d("str32 short", "d900000003616263", S("abc"));
d("bin16 short", "da00020102", B([1, 2]));
d("bin32 short", "db000000020102", B([1, 2]));
d("array16 short", "dc00020102", A(I(1), I(2)));
d("array32 short", "dd00000001c0", A(null));
d("map16 binary key", "de0001a16101", M([B([0x61]), I(1)]), { note: "a fixbin key: JS coerces the ArrayBuffer key to the string \"[object ArrayBuffer]\"" });
d("map16 string key", "de0001b16101", M([S("a"), I(1)]));
d("map32 short", "df00000001b16101", M([S("a"), I(1)]));
d("map duplicate key", "82b16101b16102", M([S("a"), I(1)], [S("a"), I(2)]), { note: "JS keeps only the last value; Go keeps both entries and Map.Get returns the last" });
d("map int key", "810102", M([I(1), I(2)]), { note: "JS coerces the key to the string \"1\"" });

// One case per line keeps the file small and diffs readable.
const version = JSON.parse(readFileSync(path.resolve("node_modules/peerjs-js-binarypack/package.json"), "utf8")).version;
process.stdout.write(`{"generator":"peerjs/binarypack/testdata/gen-golden.mjs","package":"peerjs-js-binarypack@${version}","cases":[\n` +
  cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}\n");
