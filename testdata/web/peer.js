// Test driver for the real PeerJS client (npm peerjs 1.5.4). Go tests call
// window.T over the DevTools protocol (internal/testrig). Every value that
// crosses CDP is a "tagged value": plain JSON, plus
//   {"$bin": "<base64>"}                      for ArrayBuffer / typed arrays
//   {"$undef": true}                          for undefined
//   {"$bigstring": {"len": n, "sha256": h}}   (received only) for a string
//        longer than 4096 UTF-16 units: n is its UTF-16 length, h the hex
//        SHA-256 of its UTF-8 bytes
// applied recursively inside arrays and objects.
"use strict";

(() => {
	const BIG = 4096;
	const utf8 = new TextEncoder();

	// ---- makeString ---------------------------------------------------
	// makeString(n, seed) returns exactly n UTF-16 code units, always valid
	// UTF-16 (no lone surrogate). Same generator in Go: testrig.MakeString.
	//   state = seed mod 2^32
	//   while fewer than n units:
	//     state = (state * 1664525 + 1013904223) mod 2^32;  r = state >>> 24
	//     r < 150: ASCII, code point 0x20 + r % 95            (1 unit, 1 byte)
	//     r < 200: ACCENTS[r % 10]                            (1 unit, 2 bytes)
	//     r < 230: WIDE[r % 5]                                (1 unit, 3 bytes)
	//     else:    EMOJI[r % 4], a surrogate pair             (2 units, 4 bytes)
	//              but "x" when only one unit is left
	const ACCENTS = ["é", "è", "à", "ç", "ü", "ö", "ß", "ñ", "Å", "Ø"];
	const WIDE = ["€", "中", "日", "語", "✓"];
	const EMOJI = ["👋", "😀", "🎉", "🚀"];
	function makeString(n, seed) {
		let state = seed >>> 0;
		const parts = [];
		let len = 0;
		while (len < n) {
			state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
			const r = state >>> 24;
			let c;
			if (r < 150) c = String.fromCharCode(0x20 + (r % 95));
			else if (r < 200) c = ACCENTS[r % 10];
			else if (r < 230) c = WIDE[r % 5];
			else c = n - len >= 2 ? EMOJI[r % 4] : "x";
			parts.push(c);
			len += c.length;
		}
		return parts.join("");
	}

	// ---- tagged values --------------------------------------------------
	function toBase64(bytes) {
		let s = "";
		for (let i = 0; i < bytes.length; i += 0x8000) {
			s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
		}
		return btoa(s);
	}
	function fromBase64(b64) {
		const s = atob(b64);
		const bytes = new Uint8Array(s.length);
		for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
		return bytes;
	}
	async function sha256hex(bytes) {
		const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
		return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
	}
	async function digest(s) {
		return { len: s.length, sha256: await sha256hex(utf8.encode(s)) };
	}
	function isTag(v, name) {
		const keys = Object.keys(v);
		return keys.length === 1 && keys[0] === name;
	}

	// decode: tagged value (from Go) -> JS value to send.
	function decode(v) {
		if (Array.isArray(v)) return v.map(decode);
		if (v !== null && typeof v === "object") {
			if (isTag(v, "$bin")) return fromBase64(v.$bin);
			if (isTag(v, "$undef")) return undefined;
			const o = {};
			for (const [k, x] of Object.entries(v)) o[k] = decode(x);
			return o;
		}
		return v;
	}

	// encode: received JS value -> tagged value (for Go).
	async function encode(v) {
		if (v === undefined) return { $undef: true };
		if (v === null || typeof v === "boolean" || typeof v === "number") return v;
		if (typeof v === "string") return v.length > BIG ? { $bigstring: await digest(v) } : v;
		if (v instanceof ArrayBuffer) return { $bin: toBase64(new Uint8Array(v)) };
		if (ArrayBuffer.isView(v)) return { $bin: toBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
		if (v instanceof Blob) return { $bin: toBase64(new Uint8Array(await v.arrayBuffer())) };
		if (Array.isArray(v)) return Promise.all(v.map(encode));
		if (typeof v === "object") {
			const o = {};
			for (const [k, x] of Object.entries(v)) o[k] = await encode(x);
			return o;
		}
		return { $unsupported: typeof v + ": " + String(v) };
	}

	// ---- PeerJS ---------------------------------------------------------
	let peer = null;
	let nextKey = 1;
	const conns = new Map(); // key -> {conn, items: [Promise<tagged>], closed, errors}
	const opened = []; // keys of incoming connections that are open, not yet taken
	const openWaiters = []; // resolve funcs of waitIncoming
	const errors = [];

	function errText(e) {
		return (e && e.type ? e.type + ": " : "") + (e && e.message !== undefined ? e.message : String(e));
	}
	function entry(key) {
		const e = conns.get(key);
		if (!e) throw new Error("unknown connection key " + key);
		return e;
	}
	function sleep(ms) {
		return new Promise((r) => setTimeout(r, ms));
	}

	// track registers a connection at once, so that no data or error is lost.
	function track(conn, incoming) {
		const key = "c" + nextKey++;
		const e = { conn, items: [], closed: false, errors: [] };
		conns.set(key, e);
		conn.on("data", (d) => e.items.push(encode(d)));
		conn.on("close", () => { e.closed = true; });
		conn.on("error", (err) => {
			const s = key + " " + errText(err);
			e.errors.push(s);
			errors.push(s);
		});
		if (incoming) {
			conn.on("open", () => {
				// Once per connection, even if "open" fires again.
				if (e.announced) return;
				e.announced = true;
				const w = openWaiters.shift();
				if (w) w(key);
				else opened.push(key);
			});
		}
		return key;
	}

	const T = {
		get errors() { return errors.slice(); },
		get id() { return peer ? peer.id : null; },
		makeString,
		digest: (n, seed) => digest(makeString(n, seed)),

		start(o) {
			if (peer) throw new Error("T.start: already started");
			const opts = {
				host: o.host, port: o.port, path: o.path, key: o.key,
				secure: false, config: { iceServers: [] }, debug: 1,
			};
			peer = o.id ? new Peer(o.id, opts) : new Peer(opts);
			peer.on("error", (err) => errors.push("peer " + errText(err)));
			peer.on("connection", (conn) => track(conn, true));
			return new Promise((resolve, reject) => {
				const onErr = (err) => { peer.off("open", onOpen); reject(new Error(errText(err))); };
				const onOpen = (id) => { peer.off("error", onErr); resolve(id); };
				peer.once("open", onOpen);
				peer.once("error", onErr);
			});
		},

		connect(remoteId, o = {}) {
			const opts = {};
			for (const k of ["serialization", "reliable", "label", "metadata"]) {
				if (o[k] !== undefined) opts[k] = o[k];
			}
			const conn = peer.connect(remoteId, opts);
			if (!conn) return Promise.reject(new Error("peer.connect returned nothing (peer destroyed or disconnected?)"));
			const key = track(conn, false);
			return new Promise((resolve, reject) => {
				const done = (f, v) => {
					clearTimeout(timer);
					conn.off("open", onOpen);
					conn.off("error", onErr);
					peer.off("error", onPeerErr);
					f(v);
				};
				const onOpen = () => done(resolve, key);
				const onErr = (err) => done(reject, new Error("connect " + remoteId + ": " + errText(err)));
				// peer-unavailable is reported on the peer, not on the connection.
				const onPeerErr = (err) => {
					if (String(err && err.message).includes(remoteId)) onErr(err);
				};
				const timer = setTimeout(() => done(reject, new Error("connect " + remoteId + ": no open within 15 s")), 15000);
				conn.on("open", onOpen);
				conn.on("error", onErr);
				peer.on("error", onPeerErr);
			});
		},

		waitIncoming(timeoutMs = 15000) {
			if (opened.length) return Promise.resolve(opened.shift());
			return new Promise((resolve, reject) => {
				const w = (key) => { clearTimeout(timer); resolve(key); };
				const timer = setTimeout(() => {
					const i = openWaiters.indexOf(w);
					if (i >= 0) openWaiters.splice(i, 1);
					reject(new Error("waitIncoming: no incoming connection within " + timeoutMs + " ms"));
				}, timeoutMs);
				openWaiters.push(w);
			});
		},

		info(key) {
			const c = entry(key).conn;
			return {
				open: c.open, peer: c.peer, serialization: c.serialization, reliable: c.reliable,
				label: c.label, metadata: c.metadata === undefined ? null : c.metadata,
				connectionId: c.connectionId,
			};
		},

		// send returns null, or the text of a thrown error / error event.
		async send(key, tagged) {
			return sendValue(entry(key), decode(tagged));
		},
		async sendBigString(key, n, seed) {
			return sendValue(entry(key), makeString(n, seed));
		},

		received(key) {
			return Promise.all(entry(key).items);
		},
		async waitReceived(key, count, timeoutMs = 15000) {
			const e = entry(key);
			const deadline = Date.now() + timeoutMs;
			while (e.items.length < count) {
				if (Date.now() > deadline) {
					throw new Error("waitReceived(" + key + "): " + e.items.length + " of " + count + " values within " + timeoutMs + " ms");
				}
				await sleep(10);
			}
			return Promise.all(e.items);
		},

		closed(key) { return entry(key).closed; },
		close(key) { entry(key).conn.close(); return null; },
		destroy() { if (peer) peer.destroy(); return null; },
	};

	async function sendValue(e, v) {
		const before = e.errors.length;
		try {
			const r = e.conn.send(v);
			if (r && typeof r.then === "function") await r;
		} catch (err) {
			return String(err && err.stack ? err.message : err);
		}
		const errs = e.errors.slice(before);
		return errs.length ? errs.join("; ") : null;
	}

	window.T = T;
})();
