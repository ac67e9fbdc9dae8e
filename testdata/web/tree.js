// A P2P-Live-web tree node for integration tests: our own small
// implementation of the protocol described in docs/protocol.md
// (generation C where generations differ), on the real PeerJS client.
// Go tests drive window.P over the DevTools protocol (internal/testrig).
//
// Roles (one per page):
//   P.startHost(o)      room host: keeps its report ("childNodes") and the
//                       room map, sends the map down and to the index root.
//   P.startAudience(o)  audience/relay: joins o.parent, reports up, relays
//                       room maps down and chat both ways.
//   P.startIndex(o)     index client: connects to o.rootId, keeps the list.
// o always carries the PeerServer options {host, port, path, key}.
//
// Media (docs/protocol.md §8, §9): the parent always calls the child, peer.call(childId,
// stream); the child answers with call.answer() (receive-only).
//   host      o.stream (or P.startStream() later) takes camera+mic from
//             getUserMedia; it calls each child on its first report and on
//             [4, childId]; without a stream it answers [4, 0]. Starting a
//             stream sends [4, ownId] to all children (generation C); they
//             ask back. A child's previous call is closed before a new one.
//   audience  answers every call, shows the latest stream in a muted
//             <video>, and relays it: new children are called on their
//             first report, [4, id] from a child is served from the held
//             stream, or the child waits (all waiting children are called
//             when the next stream arrives) and [4, ownId] goes up. [4, x≠0]
//             from the parent ("new stream", C) makes it ask its parent and
//             tell its children; [4, 0] ("not live") is passed to waiting
//             children.
// Stats: P.video() (incoming), P.sentVideo() (outgoing), P.waitVideo(),
// P.relayDelay() (Chrome's cumulative delays on a relaying page).
//
// Values crossing CDP are "tagged values" as in peer.js: plain JSON plus
// {"$bin": base64}, {"$undef": true} and, for received strings longer than
// 4096 UTF-16 units, {"$bigstring": {len, sha256}} (len in UTF-16 units,
// sha256 = hex SHA-256 of the UTF-8 bytes).
//
// Wire shapes (all JS arrays, BinaryPack, plain peer.connect(id)):
//   report   [1, mark, count, [], ownId, name, [], (childId, childName, childReport)*]
//            mark 1 = host's own report, 0 = audience report (sent up)
//   room map [1, 1, memberIds, 0, title, summary, cover, hostId, hostName,
//             hostReport, rootId, false]
//   chat     [0, lastHop, name, text, image|null, icon]
//   refresh  [4, requesterId] up; [4, ownId] "new stream" down (C); [4, 0] "not live"
//
// Helpers shared with single.js are in common.js (window.TestPage).
"use strict";

(() => {
	const { errText, sleep } = TestPage;
	const BIG = 4096;
	const MAX_LOG = 2000;
	const utf8 = new TextEncoder();

	// ---- makeString (same generator as peer.js / testrig.MakeString) ----
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

	// ---- tagged values ----------------------------------------------------
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
	// encode: JS value (received or stored) -> tagged value (for Go).
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

	// ---- state ------------------------------------------------------------
	let role = null; // "host" | "audience" | "index"
	let peer = null;
	let ownId = null;
	let name = null;
	let parentConn = null; // audience: connection to the parent; index: to the root
	let rootConn = null; // host: connection to the index root
	const claimPeers = []; // peers made by tryClaim
	const conns = new Set(); // every incoming connection (children and guests)
	const children = new Map(); // registered child id -> connection (join order)
	const triples = new Map(); // child id -> {name, report} (join order)
	let room = null; // host: own map; audience: last complete map from the parent
	let provisional = null; // audience: last non-authoritative map from the parent
	let hostInfo = null; // host: {title, summary, cover, rootId}
	let rooms = null; // index client: last list from the root
	const chats = []; // received chats: Promise<{hop, name, text, image}>
	const authored = []; // own chats: Promise<{name, text, image}>
	const log = []; // every received value: {from, kind, msg}
	const errors = [];
	let parentClosed = false;

	// media
	const ASK_TIMEOUT = 10000; // ms an unanswered [4, ownId] keeps children waiting
	let localStream = null; // host: camera + mic
	const outCalls = new Map(); // child id -> the MediaConnection we placed
	let inCall = null; // audience: the latest incoming call
	let inPC = null; // its RTCPeerConnection (PeerJS drops the reference on close)
	let inStream = null; // its remote stream; null before "stream" and after close
	let inClosed = false;
	let callsReceived = 0;
	let callAt = 0; // performance.now() when inCall arrived
	let firstFrameMs = null; // from callAt to the first decoded frame of inCall
	let lastInbound = null; // last stats of inCall (kept once its connection closed)
	const waiting = new Set(); // children that asked [4, id] while we had no stream
	let askedAt = 0; // performance.now() of our pending [4, ownId] up, 0 = none
	let notLive = 0; // [4, 0] received from the parent
	let videoEl = null;

	const send = TestPage.sender(errors);
	function chatEntry(msg, hop) {
		return (async () => ({
			hop: await encode(hop),
			name: await encode(msg[2]),
			text: await encode(msg[3]),
			image: await encode(msg[4]),
		}))();
	}

	// ---- reports and the room map (docs/protocol.md §6) -----------------
	// ownReport builds [1, mark, count, [], ownId, name, [], triples...].
	function ownReport() {
		const r = [1, role === "host" ? 1 : 0, triples.size, [], ownId, name, []];
		for (const [id, t] of triples) r.push(id, t.name, t.report);
		return r;
	}
	// memberIds walks a report tree level by level (breadth first): the ids
	// of all triples of one level, then the next level; the host id last.
	function memberIds(report) {
		const ids = [];
		let level = [report];
		while (level.length) {
			const next = [];
			for (const r of level) {
				if (!Array.isArray(r)) continue;
				for (let i = 7; i < r.length; i += 3) {
					const sub = r[i + 2];
					if (r[i] && Array.isArray(sub)) {
						ids.push(r[i]);
						next.push(sub);
					}
				}
			}
			level = next;
		}
		ids.push(ownId);
		return ids;
	}
	function rebuildMap() {
		const report = ownReport();
		room = [1, 1, memberIds(report), 0, hostInfo.title, hostInfo.summary, hostInfo.cover,
			ownId, name, report, hostInfo.rootId, false];
	}
	// After a change of the own subtree: the host rebuilds and sends the map
	// down and to the root; an audience sends its report up.
	function subtreeChanged() {
		if (role === "host") {
			rebuildMap();
			for (const c of children.values()) send(c, room);
			send(rootConn, room);
		} else if (role === "audience") {
			send(parentConn, ownReport());
		}
	}

	// ---- chat (docs/protocol.md §7) -------------------------------------
	// relay sends msg to the parent and all registered children except the
	// peer whose id is hop (hop null: nobody is excluded).
	function relay(msg, hop) {
		let n = 0;
		if (role === "audience" && parentConn && parentConn.peer !== hop && send(parentConn, msg)) n++;
		for (const [id, c] of children) {
			if (id !== hop && c.peer !== hop && send(c, msg)) n++;
		}
		return n;
	}
	function onChat(msg) {
		const hop = msg[1];
		const fwd = msg.slice();
		fwd[1] = ownId;
		relay(fwd, hop);
		chats.push(chatEntry(msg, hop));
	}

	// ---- incoming messages -----------------------------------------------
	function record(conn, kind, msg) {
		if (log.length >= MAX_LOG) log.shift();
		log.push({ from: conn.peer, kind, msg: Array.isArray(msg) ? msg.slice() : msg });
	}

	// A type-1 report from a child connection (docs/protocol.md §6.5).
	function onReport(conn, msg) {
		const id = msg[4];
		// As the pages do: the child is the connection whose peer id is [4]
		// (we fall back to the connection the report came on).
		let c = conn;
		if (conn.peer !== id) {
			for (const x of conns) if (x.open && x.peer === id) { c = x; break; }
		}
		const isNew = !children.has(id);
		children.set(id, c);
		// A new child is called at once with our stream, if we have one.
		if (isNew && typeof id === "string") {
			const s = streamToSend();
			if (s) callChild(id, s);
		}
		triples.set(id, { name: msg[5], report: msg });
		subtreeChanged();
	}

	function onChildData(conn, msg) {
		record(conn, "child", msg);
		if (!Array.isArray(msg)) return;
		switch (msg[0]) {
			case 0:
				onChat(msg);
				break;
			case 1:
				if (msg[1] === 0) onReport(conn, msg);
				break;
			case 4:
				onStreamRequest(msg[1]);
				break;
		}
	}

	function onChildClose(conn) {
		conns.delete(conn);
		let changed = false;
		for (const [id, c] of children) {
			if (c === conn) { children.delete(id); changed = true; }
		}
		if (triples.delete(conn.peer)) changed = true;
		waiting.delete(conn.peer);
		const call = outCalls.get(conn.peer);
		if (call && !children.has(conn.peer)) {
			outCalls.delete(conn.peer);
			call.close();
		}
		if (changed) subtreeChanged();
	}

	function onParentData(conn, msg) {
		record(conn, "parent", msg);
		if (!Array.isArray(msg)) return;
		switch (msg[0]) {
			case 0:
				onChat(msg);
				break;
			case 1:
				if (msg[1] === 1 && Array.isArray(msg[2])) {
					room = msg;
					for (const c of children.values()) send(c, msg);
				} else {
					provisional = msg;
				}
				break;
			case 4:
				onParentStreamNotice(msg[1]);
				break;
		}
	}

	// ---- media (docs/protocol.md §8, §9) ----------------------------------
	function streamToSend() {
		return role === "host" ? localStream : inStream;
	}
	// preferVideoCodec moves the payload types of codec ("VP9", "H264",
	// "AV1", ...) to the front of the offer's video m-line, so that the
	// answerer picks it (tests of codecs other than Chrome's default VP8).
	function preferVideoCodec(sdp, codec) {
		const lines = sdp.split("\r\n");
		const mi = lines.findIndex((l) => l.startsWith("m=video "));
		if (mi < 0) return sdp;
		const want = new Set();
		for (const l of lines) {
			const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
			if (m && m[2].toUpperCase() === codec.toUpperCase()) want.add(m[1]);
		}
		if (!want.size) {
			errors.push("preferVideoCodec: no " + codec + " in the offer");
			return sdp;
		}
		const parts = lines[mi].split(" ");
		const head = parts.slice(0, 3), pts = parts.slice(3);
		lines[mi] = head.concat(pts.filter((p) => want.has(p)), pts.filter((p) => !want.has(p))).join(" ");
		return lines.join("\r\n");
	}
	let preferCodec = null;
	// callChild calls a child with a stream, hanging up our previous call
	// to it first (docs/protocol.md §8).
	function callChild(id, stream) {
		const old = outCalls.get(id);
		if (old) {
			outCalls.delete(id);
			old.close();
		}
		const call = preferCodec
			? peer.call(id, stream, { sdpTransform: (sdp) => preferVideoCodec(sdp, preferCodec) })
			: peer.call(id, stream);
		if (!call) {
			errors.push("peer.call(" + id + ") returned nothing");
			return;
		}
		outCalls.set(id, call);
		call.on("close", () => { if (outCalls.get(id) === call) outCalls.delete(id); });
		call.on("error", (e) => errors.push("call to " + id + ": " + errText(e)));
	}
	function asking() {
		return askedAt !== 0 && performance.now() - askedAt < ASK_TIMEOUT;
	}
	// askParent sends [4, ownId] up, unless a request is already pending
	// (a second one would make the parent re-call us and cut the stream we
	// pass on) or force is set.
	function askParent(force) {
		if (!force && asking()) return;
		if (send(parentConn, [4, ownId])) askedAt = performance.now();
	}
	// [4, id] from a child: the refresh request (docs/protocol.md §9.1).
	function onStreamRequest(id) {
		if (typeof id !== "string" || !id) return;
		if (role === "host") {
			if (localStream) {
				callChild(id, localStream);
			} else {
				for (const c of conns) if (c.peer === id) { send(c, [4, 0]); break; }
			}
		} else if (role === "audience") {
			if (inStream && !asking()) {
				callChild(id, inStream);
			} else {
				waiting.add(id);
				askParent(false);
			}
		}
	}
	// Type 4 from the parent (C): [4, x≠0] "a new stream is available" ->
	// ask the parent and tell our children; [4, 0] (or [4]) "not live".
	function onParentStreamNotice(x) {
		if (x) {
			askParent(false);
			for (const c of children.values()) send(c, [4, ownId]);
			return;
		}
		notLive++;
		askedAt = 0;
		for (const id of waiting) send(children.get(id), [4, 0]);
		waiting.clear();
	}
	function onCall(call) {
		if (role !== "audience") {
			errors.push("unexpected call from " + call.peer + " (role " + role + ")");
			call.close();
			return;
		}
		callsReceived++;
		inCall = call;
		inStream = null;
		inClosed = false;
		lastInbound = null;
		firstFrameMs = null;
		callAt = performance.now();
		call.on("stream", (s) => onStream(call, s));
		call.on("close", () => {
			if (call !== inCall) return;
			inClosed = true;
			inStream = null;
			if (videoEl) videoEl.srcObject = null; // C blanks the video
		});
		call.on("error", (e) => errors.push("call from " + call.peer + ": " + errText(e)));
		call.answer(); // no stream: receive-only
		inPC = call.peerConnection;
		watchFirstFrame(call, inPC, callAt);
	}
	function onStream(call, stream) {
		// PeerJS emits "stream" once per track, with the same stream.
		if (call !== inCall || inStream === stream) return;
		inStream = stream;
		askedAt = 0;
		show(stream);
		for (const id of waiting) if (children.has(id)) callChild(id, stream);
		waiting.clear();
	}
	function show(stream) {
		videoEl = TestPage.showVideo(videoEl, stream, errors);
	}
	// watchFirstFrame polls the stats of a new call until its first frame
	// is decoded (at most 60 s, or until another call replaces it).
	async function watchFirstFrame(call, pc, t0) {
		while (call === inCall && firstFrameMs === null && performance.now() - t0 < 60000) {
			let st = null;
			try { st = await TestPage.inboundStats(pc); } catch (e) { return; }
			if (call !== inCall) return;
			if (st && st.video && st.video.framesDecoded > 0) {
				firstFrameMs = Math.round(performance.now() - t0);
				return;
			}
			await sleep(10);
		}
	}
	async function videoStats() {
		const st = await TestPage.inboundStats(inPC).catch(() => null);
		if (st) lastInbound = st;
		return TestPage.videoSummary(st || lastInbound, {
			calls: callsReceived,
			from: inCall ? inCall.peer : null,
			closed: inClosed,
			firstFrameMs,
		});
	}
	// sentStats reads the outbound video of our calls: per child in byChild,
	// the first child's at the top level, and the local track's settings.
	async function sentStats() {
		const out = {
			calls: outCalls.size, to: null, frameWidth: 0, frameHeight: 0, framesEncoded: 0, framesSent: 0,
			qualityLimitationReason: null, codec: null, track: null, byChild: {},
		};
		const s = streamToSend();
		const tr = s && s.getVideoTracks()[0];
		if (tr) {
			const st = tr.getSettings();
			out.track = { width: st.width || 0, height: st.height || 0, frameRate: st.frameRate || 0 };
		}
		for (const [id, call] of outCalls) {
			const o = await TestPage.outboundVideo(call);
			if (!o || !o.video.length) continue;
			const v = o.video[o.video.length - 1];
			const c = v.codecId ? o.report.get(v.codecId) : null;
			const one = {
				frameWidth: v.frameWidth || 0,
				frameHeight: v.frameHeight || 0,
				framesEncoded: v.framesEncoded || 0,
				framesSent: v.framesSent || 0,
				qualityLimitationReason: v.qualityLimitationReason || null,
				codec: c ? c.mimeType : null,
			};
			out.byChild[id] = one;
			if (out.to === null && one.framesEncoded > 0) {
				out.to = id;
				Object.assign(out, one);
			}
		}
		return out;
	}
	async function getCamera(o) {
		const c = (o && o.constraints) || { video: { width: 640, height: 480 }, audio: true };
		return navigator.mediaDevices.getUserMedia(c);
	}

	// Greeting on every incoming connection's open (docs/protocol.md §6.4, C): the host
	// sends its map unmodified; a relay sends a copy with index 1 = -1.
	function greet(conn) {
		if (!room) return;
		if (role === "host") {
			send(conn, room);
		} else {
			const g = room.slice();
			g[1] = -1;
			send(conn, g);
		}
	}

	function onConnection(conn) {
		conns.add(conn);
		conn.on("open", () => greet(conn));
		conn.on("data", (d) => {
			try { onChildData(conn, d); } catch (e) { errors.push("child data: " + errText(e)); }
		});
		conn.on("close", () => onChildClose(conn));
		conn.on("error", (e) => errors.push("conn " + conn.peer + ": " + errText(e)));
	}

	// ---- peers --------------------------------------------------------------
	function openPeer(o, id) {
		const opts = TestPage.peerOptions(o);
		const p = id ? new Peer(id, opts) : new Peer(opts);
		return new Promise((resolve, reject) => {
			const onErr = (err) => { p.off("open", onOpen); reject(Object.assign(new Error(errText(err)), { type: err && err.type, peer: p })); };
			const onOpen = (pid) => { p.off("error", onErr); resolve(p); };
			p.once("open", onOpen);
			p.once("error", onErr);
		});
	}
	async function start(r, o) {
		if (peer) throw new Error("P: already started as " + role);
		role = r;
		peer = await openPeer(o, null);
		ownId = peer.id;
		name = o.name || ownId;
		peer.on("error", (err) => errors.push("peer " + errText(err)));
		peer.on("connection", onConnection);
		peer.on("call", (call) => {
			try { onCall(call); } catch (e) { errors.push("call: " + errText(e)); }
		});
		return ownId;
	}
	function connectOut(id, onOpen, onData) {
		const c = peer.connect(id);
		if (!c) throw new Error("peer.connect(" + id + ") returned nothing");
		c.on("open", () => onOpen(c));
		c.on("data", (d) => {
			try { onData(c, d); } catch (e) { errors.push("data from " + id + ": " + errText(e)); }
		});
		c.on("close", () => { if (c === parentConn) parentClosed = true; });
		c.on("error", (e) => errors.push("conn " + id + ": " + errText(e)));
		return c;
	}

	async function authorChat(text, image) {
		const msg = [0, ownId, name, text, image || null, ""];
		const n = relay(msg, null);
		const entry = chatEntry(msg, null).then((e) => ({ name: e.name, text: e.text, image: e.image }));
		authored.push(entry);
		const e = await entry;
		e.sent = n;
		return e;
	}

	function connTo(target) {
		if (target === "parent") return parentConn;
		if (target === "root") return rootConn;
		if (children.has(target)) return children.get(target);
		for (const c of conns) if (c.peer === target && c.open) return c;
		if (parentConn && parentConn.peer === target) return parentConn;
		if (rootConn && rootConn.peer === target) return rootConn;
		return null;
	}

	const P = {
		makeString,
		digest: (n, seed) => digest(makeString(n, seed)),

		async startHost(o) {
			hostInfo = {
				title: o.title === undefined ? null : o.title,
				summary: o.summary === undefined ? null : o.summary,
				cover: o.cover === undefined ? null : o.cover,
				rootId: o.rootId || "",
			};
			preferCodec = o.codec || null;
			if (o.stream) localStream = await getCamera(o);
			await start("host", o);
			rebuildMap();
			if (o.rootId) {
				rootConn = connectOut(o.rootId, (c) => send(c, room), (c, d) => record(c, "root", d));
			}
			return ownId;
		},

		async startAudience(o) {
			await start("audience", o);
			parentConn = connectOut(o.parent, (c) => send(c, ownReport()), onParentData);
			return ownId;
		},

		async startIndex(o) {
			await start("index", o);
			parentConn = connectOut(o.rootId, () => {}, (c, d) => {
				record(c, "root", d);
				rooms = d;
			});
			return ownId;
		},

		// startStream (host) takes camera+mic now (replacing a previous
		// stream) and tells the children "new stream" with [4, ownId] (C);
		// they ask back with [4, childId] and are called then.
		// o.constraints overrides the getUserMedia constraints.
		async startStream(o) {
			if (role !== "host") throw new Error("startStream: role is " + role);
			const s = await getCamera(o);
			if (localStream) for (const t of localStream.getTracks()) t.stop();
			localStream = s;
			let n = 0;
			for (const c of children.values()) if (send(c, [4, ownId])) n++;
			return n;
		},
		// refresh (audience) asks the parent for the stream: [4, ownId]
		// (generation B/C "Refresh" button). Returns whether it was sent.
		refresh() {
			if (role !== "audience") throw new Error("refresh: role is " + role);
			askParent(true);
			return askedAt !== 0;
		},
		video: () => videoStats(),
		sentVideo: () => sentStats(),
		// relayDelay (audience relaying its stream): Chrome's own cumulative
		// delays, read twice by the benchmark (internal/bench) to estimate
		// what a browser relay adds per hop: inbound video, first packet of
		// a frame -> decoded (totalProcessingDelay, with the jitter buffer);
		// outbound video of every child call, encoder and pacer.
		async relayDelay() {
			const r = { processing: 0, decoded: 0, encode: 0, encoded: 0, sendDelay: 0, sent: 0 };
			const n = (x) => (typeof x === "number" ? x : 0);
			if (inPC && inPC.signalingState !== "closed") {
				(await inPC.getStats()).forEach((s) => {
					if (s.type !== "inbound-rtp" || s.kind !== "video") return;
					r.processing += n(s.totalProcessingDelay);
					r.decoded += n(s.framesDecoded);
				});
			}
			for (const call of outCalls.values()) {
				const pc = call.peerConnection;
				if (!pc || pc.signalingState === "closed") continue;
				(await pc.getStats()).forEach((s) => {
					if (s.type !== "outbound-rtp" || s.kind !== "video") return;
					r.encode += n(s.totalEncodeTime);
					r.encoded += n(s.framesEncoded);
					r.sendDelay += n(s.totalPacketSendDelay);
					r.sent += n(s.packetsSent);
				});
			}
			return r;
		},
		media: () => ({
			hasLocal: !!localStream,
			hasStream: !!inStream,
			calls: callsReceived,
			from: inCall ? inCall.peer : null,
			outCalls: Array.from(outCalls.keys()),
			waiting: Array.from(waiting),
			asking: asking(),
			notLive,
		}),
		// waitVideo waits until the current incoming call has decoded at
		// least minFrames frames and its first-frame time is known (and, if
		// minCalls is given, at least that many calls arrived); resolves
		// with P.video().
		waitVideo: (minFrames = 1, timeoutMs = 15000, minCalls = 1) => TestPage.waitVideo(videoStats,
			// firstFrameMs is set by its own 10 ms poll: wait for it too.
			(v) => v.calls >= minCalls && v.framesDecoded >= minFrames && v.firstFrameMs !== null,
			timeoutMs, "waitVideo(" + minFrames + ", calls " + minCalls + ")"),

		// tryClaim opens a separate peer with a fixed id: "open" (the peer is
		// kept, so the id stays taken) or the PeerJS error type.
		async tryClaim(o) {
			try {
				const p = await openPeer(o, o.id);
				claimPeers.push(p);
				return "open";
			} catch (e) {
				if (e.peer) e.peer.destroy();
				return e.type || e.message;
			}
		},

		id: () => ownId,
		role: () => role,
		info: () => ({
			role, id: ownId, name,
			parent: parentConn ? parentConn.peer : null,
			parentOpen: !!(parentConn && parentConn.open),
			parentClosed,
			root: rootConn ? rootConn.peer : null,
			rootOpen: !!(rootConn && rootConn.open),
			children: Array.from(children.keys()),
			connections: Array.from(conns, (c) => ({ peer: c.peer, open: c.open })),
		}),
		children: () => Array.from(children.keys()),
		report: () => encode(ownReport()),
		roomMap: () => encode(room),
		provisional: () => encode(provisional),
		rooms: () => encode(rooms),
		chats: () => Promise.all(chats),
		authored: () => Promise.all(authored),
		messages: () => encode(log),
		errors: () => errors.slice(),

		chat: (text, image) => authorChat(text, image),
		sendBigChat: (textLen, imageLen, seed) =>
			authorChat(makeString(textLen, seed + 1), makeString(imageLen, seed)),

		async waitChats(n, timeoutMs = 15000) {
			const deadline = Date.now() + timeoutMs;
			while (chats.length < n) {
				if (Date.now() > deadline) throw new Error("waitChats: " + chats.length + " of " + n + " within " + timeoutMs + " ms");
				await sleep(20);
			}
			return Promise.all(chats);
		},
		waitFor: TestPage.waitFor,

		// sendTo sends a tagged value on the connection to a peer id, or to
		// "parent" / "root". Returns null or an error text.
		async sendTo(target, tagged) {
			const c = connTo(target);
			if (!c) return "no connection to " + target;
			if (!c.open) return "connection to " + target + " is not open";
			try {
				const r = c.send(decode(tagged));
				if (r && typeof r.then === "function") await r;
			} catch (e) {
				return errText(e);
			}
			return null;
		},

		closeChild(id) {
			const c = children.get(id);
			if (!c) throw new Error("closeChild: no child " + id);
			c.close();
			return null;
		},
		destroy() {
			if (localStream) for (const t of localStream.getTracks()) t.stop();
			for (const p of claimPeers) p.destroy();
			if (peer) peer.destroy();
			return null;
		},
	};

	TestPage.publish(P, () => peer);
})();
