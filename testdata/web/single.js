// A node of a single-file P2P-Live-web tree, for integration tests: our own
// small page that behaves on the wire as SingleP2PLiveVersion.html does
// (shared/protocol/p2plive-web.md §12 and §3), on the real PeerJS client.
// Go tests drive window.P over the DevTools protocol (internal/testrig).
//
// One page for everyone: P.start(o) opens the peer ({host, port, path, key}
// of the PeerServer, name); P.connect(id) is the page's Connect button (the
// target becomes our parent); a page that never connects is the room's root.
// P.startStream() is its camera (the root's local stream).
//
// What goes over the wire, as the single page does it:
//   - nothing on an incoming connection's open: single pages send no
//     greeting; the child sends its report when its parent connection opens.
//   - report [1, 0, childCount, [] (member ids once a child left), ownId,
//     name, [], (childId, childName, childReport)*], sent up on every change
//     of the subtree and on rename.
//   - the root's room map is its own report with [1] = 1 and [3] = the ids
//     of every member but itself (level by level inside each subtree); it
//     is rebuilt and sent to all children on every change of the tree.
//   - a parent's [1] == 1 map is stored as the room map and sent to every
//     child unchanged; [1] == -1 is ignored; a map from a child is stored
//     and passed down too (the page does not tell them apart).
//   - chat [0, lastHop, name, text, image]: five fields; relayed with [1]
//     rewritten to our id to the parent and the children, except the peers
//     named by the received [1] (the hop).
//   - the first report of a connection makes it a child, and the child is
//     called with the received stream, else the local one.
//   - [4, id] from a child: with a stream, the page calls its remembered
//     waiting child (normally none: a relay or root with a stream serves no
//     refresh); without, it remembers id and sends [4, ownId] up; a root
//     without a stream answers [4] to the asker. [4] from the parent: passed
//     to the waiting child, or (no waiting child) an alert "not live".
//   - [2, id, name]: id is called with the local stream, else the received
//     one (the page asks confirm(); we say yes).
//   - a call is answered with no stream; the stream is shown, or passed on to
//     the waiting child (a new call) if one waits.
// Left out: the page's rejoin after losing its parent (it reloads itself
// without an id, so a human must press Connect again) and the guest
// connections of its auto-join; type 3 is relayed (hops + 1) but does not
// start a rejoin.
//
// Stats: P.video() has the shape of tree.js's P.video() (testrig.TreeVideo).
// Helpers shared with tree.js are in common.js (window.TestPage).
"use strict";

(() => {
	const { errText } = TestPage;
	let peer = null;
	let ownId = null;
	let name = null;
	let report = null; // our report (the page's "hereNode")
	let room = []; // the room map (the page's "nodesMap")
	let parent = null; // connection to our parent
	let parentClosed = false;
	const incoming = []; // every incoming connection, in order
	const kids = []; // children: incoming connections that reported, in order
	let hop = null; // [1] of the chat being relayed (the page's "deliverId")
	let waitingChild = null; // the page's single refresh slot ("awaitedNodeId")
	let localStream = null;
	let remoteStream = null;
	let lendPending = false; // P.lend: the next stream becomes our local stream
	let inCall = null;
	const outCalls = []; // calls we placed
	let callsReceived = 0;
	let lastInbound = null;
	let notLive = 0;
	let videoEl = null;
	const chats = [];
	const log = [];
	const errors = [];

	const send = TestPage.sender(errors);
	function record(from, kind, msg) {
		if (log.length >= 2000) log.shift();
		log.push({ from, kind, msg: JSON.parse(JSON.stringify(msg === undefined ? null : msg)) });
	}
	function isRoot() {
		return parent === null;
	}

	// spread sends msg to the parent and every child, except the peers named
	// by msg[1] and by the hop of the chat being relayed; then forgets the hop.
	function spread(msg) {
		const skip = [msg[1], hop];
		let n = 0;
		if (parent && !skip.includes(parent.peer) && send(parent, msg)) n++;
		for (const c of kids) if (!skip.includes(c.peer) && send(c, msg)) n++;
		hop = null;
		return n;
	}

	// memberIds lists the ids of a report's triples whose report shows fewer
	// than 999 children, then recurses into each child report: the page's
	// member list (the root itself is not in it).
	function memberIds(r, out = []) {
		if (!Array.isArray(r)) return out;
		for (let i = 7; i < r.length; i += 3) {
			if (r[i] && Array.isArray(r[i + 2]) && r[i + 2][2] < 999) out.push(r[i]);
		}
		for (let i = 9; i < r.length; i += 3) if (Array.isArray(r[i])) memberIds(r[i], out);
		return out;
	}
	function roomIds() {
		return memberIds(isRoot() ? report : room);
	}

	// treeChanged: the root rebuilds its map and sends it down, a node sends
	// its report up.
	function treeChanged() {
		if (!isRoot()) {
			send(parent, report);
			return;
		}
		report[3] = roomIds();
		room = report.slice();
		room[1] = 1;
		spread(room);
	}

	// onTree handles a type-1 message from anyone.
	function onTree(msg) {
		if (msg[1] === 0) {
			let i = 7;
			while (i < report.length && report[i] !== msg[4]) i += 3;
			if (i < report.length) {
				report[i + 1] = msg[5];
				report[i + 2] = msg;
			} else {
				report.push(msg[4], msg[5], msg);
			}
			report[2] = kids.length;
			treeChanged();
		} else if (msg[1] === 1) {
			for (const c of kids) send(c, msg);
			room = msg;
		}
	}

	function onChat(msg) {
		hop = msg[1];
		chats.push({ hop: msg[1], name: msg[2], text: msg[3], image: msg[4] === undefined ? null : msg[4] });
		msg[1] = ownId;
		spread(msg);
	}

	function callPeer(id, stream) {
		if (!id || !stream) return;
		const call = peer.call(id, stream);
		if (!call) return;
		outCalls.push(call);
		call.on("error", (e) => errors.push("call to " + id + ": " + errText(e)));
	}

	// sentStats: the largest frame size any of our calls sends (what the
	// encoder makes of the camera now: it scales down under load).
	async function sentStats() {
		const out = { calls: 0, frameWidth: 0, frameHeight: 0, framesPerSecond: 0 };
		for (const call of outCalls) {
			const o = await TestPage.outboundVideo(call);
			if (!o) continue;
			for (const s of o.video) {
				if (!s.framesEncoded) continue;
				out.calls++;
				if ((s.frameWidth || 0) > out.frameWidth) {
					out.frameWidth = s.frameWidth || 0;
					out.frameHeight = s.frameHeight || 0;
					out.framesPerSecond = s.framesPerSecond || 0;
				}
			}
		}
		return out;
	}

	// onData records msg from conn (kind "child" or "parent") and handles
	// it: a chat the same from everyone, any other array by other(msg).
	function onData(conn, kind, msg, other) {
		record(conn.peer, kind, msg);
		if (!Array.isArray(msg)) return;
		if (msg[0] === 0) onChat(msg);
		else other(msg);
	}

	function onChildMessage(msg) {
		switch (msg[0]) {
			case 1:
				if (!kids.some((c) => c.peer === msg[4])) {
					const c = incoming.find((x) => x.peer === msg[4]);
					if (c) {
						kids.push(c);
						callPeer(msg[4], remoteStream || localStream);
					}
				}
				onTree(msg);
				break;
			case 2:
				if (msg[1]) callPeer(msg[1], localStream || remoteStream);
				break;
			case 4:
				if (remoteStream || localStream) {
					callPeer(waitingChild, remoteStream || localStream);
					waitingChild = null;
				} else if (parent) {
					waitingChild = msg[1];
					send(parent, [4, ownId]);
				} else {
					const c = incoming.find((x) => x.peer === msg[1]);
					if (c) send(c, [4]);
				}
				break;
		}
	}

	function onChildClose(conn) {
		const i = incoming.indexOf(conn);
		if (i >= 0) incoming.splice(i, 1);
		const k = kids.indexOf(conn);
		if (k < 0) return;
		kids.splice(k, 1);
		let t = 7;
		while (t < report.length && report[t] !== conn.peer) t += 3;
		if (t >= report.length) return;
		report.splice(t, 3);
		report[2] = kids.length;
		report[3] = roomIds();
		treeChanged();
	}

	function onParentMessage(msg) {
		switch (msg[0]) {
			case 1:
				if (msg[1] !== -1) onTree(msg);
				break;
			case 3: {
				const m = msg.slice();
				if (m[2] > 0 || m[3] === true) {
					remoteStream = null;
					if (inCall) inCall.close();
				} else {
					parent.close();
				}
				m[2]++;
				spread(m);
				break;
			}
			case 4: {
				const c = incoming.find((x) => x.peer === waitingChild);
				if (waitingChild && c) {
					send(c, [4]);
					waitingChild = null;
				} else if (!waitingChild) {
					notLive++;
				}
				break;
			}
		}
	}

	function onCall(call) {
		callsReceived++;
		inCall = call;
		lastInbound = null;
		call.on("stream", (s) => {
			if (call !== inCall) return;
			if (lendPending) {
				lendPending = false;
				localStream = s;
				show(s);
				return;
			}
			if (remoteStream === s) return; // "stream" comes once per track
			remoteStream = s;
			if (waitingChild) {
				callPeer(waitingChild, s);
				waitingChild = null;
			} else {
				show(s);
			}
		});
		call.on("error", (e) => errors.push("call from " + call.peer + ": " + errText(e)));
		call.answer();
	}

	function show(stream) {
		videoEl = TestPage.showVideo(videoEl, stream, errors);
	}

	async function videoStats() {
		const st = await TestPage.inboundStats(inCall && inCall.peerConnection).catch(() => null);
		if (st) lastInbound = st;
		return TestPage.videoSummary(st || lastInbound, {
			calls: callsReceived,
			from: inCall ? inCall.peer : null,
			closed: false,
			firstFrameMs: null,
		});
	}

	function onConnection(conn) {
		incoming.push(conn);
		conn.on("data", (d) => {
			try { onData(conn, "child", d, onChildMessage); } catch (e) { errors.push("child data: " + errText(e)); }
		});
		conn.on("close", () => onChildClose(conn));
		conn.on("error", (e) => errors.push("conn " + conn.peer + ": " + errText(e)));
	}

	const P = {
		async start(o) {
			if (peer) throw new Error("P: already started");
			peer = new Peer(TestPage.peerOptions(o));
			ownId = await new Promise((resolve, reject) => {
				peer.once("open", resolve);
				peer.once("error", (e) => reject(new Error(errText(e))));
			});
			name = o.name || ownId;
			report = [1, 0, 0, [], ownId, name, []];
			peer.on("error", (e) => errors.push("peer " + errText(e)));
			peer.on("connection", onConnection);
			peer.on("call", (call) => {
				try { onCall(call); } catch (e) { errors.push("call: " + errText(e)); }
			});
			return ownId;
		},
		// connect is the Connect button: a new parent (the old one is closed
		// and the children are told [3, ownId, 0, false]).
		connect(id) {
			if (parent) {
				parent.close();
				spread([3, ownId, 0, false]);
			}
			parentClosed = false;
			const c = peer.connect(id);
			parent = c;
			c.on("open", () => send(c, report));
			c.on("data", (d) => {
				try { onData(c, "parent", d, onParentMessage); } catch (e) { errors.push("parent data: " + errText(e)); }
			});
			c.on("close", () => { if (c === parent) parentClosed = true; });
			c.on("error", (e) => errors.push("parent " + id + ": " + errText(e)));
			return null;
		},
		// startStream takes the camera and microphone as the root's stream;
		// constraints (a test's choice, e.g. a smaller picture) default to
		// the page's {video: true, audio: true}.
		async startStream(constraints) {
			localStream = await navigator.mediaDevices.getUserMedia(constraints || { video: true, audio: true });
			show(localStream);
			return null;
		},
		chat(text) {
			const msg = [0, ownId, name, text, null];
			const n = spread(msg);
			return n;
		},
		rename(n) {
			name = n;
			report[5] = n;
			if (isRoot()) {
				room = report.slice();
				room[1] = 1;
				spread(room);
			} else {
				send(parent, report);
			}
			return null;
		},
		// refresh is the Refresh button: ask the parent when we have no stream.
		refresh() {
			if (remoteStream || !parent) return false;
			return send(parent, [4, ownId]);
		},
		// lend asks id for its stream over a guest connection ([2, ownId, name]).
		lend(id) {
			lendPending = true;
			const g = peer.connect(id);
			g.on("open", () => send(g, [2, ownId, name]));
			g.on("data", (d) => record(id, "guest", d));
			return null;
		},
		track() {
			const s = localStream || remoteStream;
			const tr = s && s.getVideoTracks()[0];
			if (!tr) return null;
			const st = tr.getSettings();
			return { width: st.width || 0, height: st.height || 0 };
		},
		video: () => videoStats(),
		sentVideo: () => sentStats(),
		waitVideo: (minFrames = 1, timeoutMs = 15000, minCalls = 1) => TestPage.waitVideo(videoStats,
			(v) => v.calls >= minCalls && v.framesDecoded >= minFrames, timeoutMs, "waitVideo"),
		waitFor: TestPage.waitFor,
		id: () => ownId,
		children: () => kids.map((c) => c.peer),
		report: () => report,
		roomMap: () => room,
		chats: () => chats.slice(),
		messages: () => log.slice(),
		errors: () => errors.slice(),
		info: () => ({
			id: ownId, name, root: isRoot(),
			parent: parent ? parent.peer : null, parentOpen: !!(parent && parent.open), parentClosed,
			children: kids.map((c) => c.peer), notLive, calls: callsReceived,
			hasStream: !!remoteStream, hasLocal: !!localStream,
		}),
		destroy() {
			if (localStream) for (const t of localStream.getTracks()) t.stop();
			if (peer) peer.destroy();
			return null;
		},
	};

	TestPage.publish(P, () => peer);
})();
