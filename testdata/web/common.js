// Helpers shared by our test pages single.js and tree.js, on
// window.TestPage. single.html and tree.html load this file before their
// own script; it keeps no state of its own (the pages pass theirs in).
"use strict";

(() => {
	function errText(e) {
		return (e && e.type ? e.type + ": " : "") + (e && e.message !== undefined ? e.message : String(e));
	}
	function sleep(ms) {
		return new Promise((r) => setTimeout(r, ms));
	}
	// sender returns send(conn, msg): sends msg if conn is open and tells
	// whether it did; a failure (thrown or a rejected promise) is pushed to
	// errors.
	function sender(errors) {
		return function send(conn, msg) {
			if (!conn || !conn.open) return false;
			try {
				const r = conn.send(msg);
				if (r && typeof r.catch === "function") r.catch((e) => errors.push("send to " + conn.peer + ": " + errText(e)));
				return true;
			} catch (e) {
				errors.push("send to " + conn.peer + ": " + errText(e));
				return false;
			}
		};
	}
	// peerOptions: the PeerJS options for the PeerServer o = {host, port,
	// path, key} (plain http, no ICE servers: loopback only).
	function peerOptions(o) {
		return {
			host: o.host, port: o.port, path: o.path, key: o.key,
			secure: false, config: { iceServers: [] }, debug: 1,
		};
	}
	// showVideo shows stream in el, a muted autoplay <video> appended to the
	// body when el is null, and returns el; a failed play() goes to errors.
	function showVideo(el, stream, errors) {
		if (!el) {
			el = document.createElement("video");
			el.autoplay = true;
			el.muted = true;
			el.playsInline = true;
			el.width = 320;
			document.body.appendChild(el);
		}
		el.srcObject = stream;
		const r = el.play();
		if (r && r.catch) r.catch((e) => errors.push("video play: " + errText(e)));
		return el;
	}

	// inboundStats reads the inbound video and audio RTP stats of pc:
	// {video, audio, codec}, or null when pc is missing or closed.
	async function inboundStats(pc) {
		if (!pc || pc.signalingState === "closed") return null;
		const report = await pc.getStats();
		let video = null;
		let audio = null;
		report.forEach((s) => {
			if (s.type !== "inbound-rtp") return;
			if (s.kind === "video") video = s;
			else if (s.kind === "audio") audio = s;
		});
		const codec = video && video.codecId ? report.get(video.codecId) : null;
		return { video, audio, codec: codec ? codec.mimeType : null };
	}
	// videoSummary is P.video() of both pages (testrig.TreeVideo): the
	// inboundStats st (null: zeros) and the page's own call counts, m =
	// {calls, from, closed, firstFrameMs}.
	function videoSummary(st, m) {
		const v = (st && st.video) || {};
		const a = (st && st.audio) || {};
		const n = (x) => (typeof x === "number" ? x : 0);
		return {
			calls: m.calls,
			from: m.from,
			closed: m.closed,
			framesDecoded: n(v.framesDecoded),
			frameWidth: n(v.frameWidth),
			frameHeight: n(v.frameHeight),
			framesReceived: n(v.framesReceived),
			framesDropped: n(v.framesDropped),
			framesPerSecond: n(v.framesPerSecond),
			packetsLost: n(v.packetsLost),
			bytesReceived: n(v.bytesReceived),
			nackCount: n(v.nackCount),
			pliCount: n(v.pliCount),
			firstFrameMs: m.firstFrameMs,
			codec: st ? st.codec : null,
			audio: { packetsReceived: n(a.packetsReceived), totalSamplesReceived: n(a.totalSamplesReceived) },
		};
	}
	// outboundVideo reads the stats of a call we placed: {report, video},
	// video its outbound-rtp video entries in report order; null when its
	// connection is gone or closed or getStats fails.
	async function outboundVideo(call) {
		const pc = call.peerConnection;
		if (!pc || pc.signalingState === "closed") return null;
		let report;
		try { report = await pc.getStats(); } catch (e) { return null; }
		const video = [];
		report.forEach((s) => { if (s.type === "outbound-rtp" && s.kind === "video") video.push(s); });
		return { report, video };
	}

	// waitVideo polls stats() every 50 ms until ok(v) holds for its value v
	// and resolves with v; after timeoutMs it fails with what and v.
	async function waitVideo(stats, ok, timeoutMs, what) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const v = await stats();
			if (ok(v)) return v;
			if (Date.now() > deadline) throw new Error(what + ": not within " + timeoutMs + " ms: " + JSON.stringify(v));
			await sleep(50);
		}
	}
	// waitFor polls a JS expression (evaluated in the page's global scope)
	// until it is truthy or returns a truthy promise; resolves with its value.
	async function waitFor(expr, timeoutMs = 15000) {
		const f = new Function("return (" + expr + ");");
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const v = await f();
			if (v) return v;
			if (Date.now() > deadline) throw new Error("waitFor(" + expr + "): not true within " + timeoutMs + " ms");
			await sleep(20);
		}
	}

	// publish makes P the page's window.P. Leaving the page calls
	// P.destroy() while peer() is live, which closes every connection
	// cleanly, so that neighbours see the data channels close at once. A
	// tab closed without this (e.g. over CDP) leaves the remote channel open
	// until ICE fails, which Chromium takes well over 40 s to notice on
	// loopback.
	function publish(P, peer) {
		window.addEventListener("pagehide", () => {
			const p = peer();
			if (p && !p.destroyed) P.destroy();
		});
		window.P = P;
	}

	window.TestPage = {
		errText, sleep, sender, peerOptions, showVideo,
		inboundStats, videoSummary, outboundVideo, waitVideo, waitFor, publish,
	};
})();
