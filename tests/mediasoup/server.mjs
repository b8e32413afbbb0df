// The smallest signalling server for mediasoup that plain-SDP peers (the SFU benchmark's
// webrtc-rs participants) can use: `node server.mjs <port>`.
//
// Modules: mediasoup, sdp-transform and ws are resolved from $MEDIASOUP_MODULES (default
// ../../target/mediasoup/node_modules, where build.sh installs them) via createRequire, so
// nothing is installed next to this file. The worker binary comes from $MEDIASOUP_WORKER_BIN
// (mediasoup's own variable), e.g. target/mediasoup/bin/mediasoup-worker from build.sh.
//
// One Worker, one Router (Opus 48000/2, VP8 90000), a WebSocket on 127.0.0.1:<port>. Prints
// `listening <port> worker <pid>` once ready. JSON text frames, handled one at a time per
// socket, each reply echoing the request's "id":
//   {"id","request":"publish","sdp":<offer>}      -> {"id","answer":<sdp>,"producers":[id...]}
//   {"id","request":"subscribe","producers":[..]} -> {"id","offer":<sdp>}
//   {"id","request":"answer","sdp":<answer>}      -> {"id","ok":true}   (for the last subscribe)
//   any failure                                   -> {"id","error":<text>}
// Subscribers see msid `<publishing transport id> <producer id>`, so one publisher's tracks
// share a stream id. Closing the socket closes its transports. (Leave DEBUG unset: mediasoup's
// debug logs go to stdout.)
import { createRequire } from 'node:module';

const modules = process.env.MEDIASOUP_MODULES ?? new URL('../../target/mediasoup/node_modules', import.meta.url).pathname;
const require = createRequire(`${modules}/`);
const mediasoup = require('mediasoup');
const sdpTransform = require('sdp-transform');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs <port>');
  process.exit(2);
}

const worker = await mediasoup.createWorker({ logLevel: 'warn' });
worker.on('died', () => {
  console.error('mediasoup worker died');
  process.exit(1);
});
const router = await worker.createRouter({
  mediaCodecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  ],
});

const newTransport = () =>
  router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }], enableUdp: true, enableTcp: false });

/** The DTLS parameters of a remote description; `setup` decides the remote's role. */
function remoteDtls(sdp) {
  const fingerprint = sdp.fingerprint ?? sdp.media.find((m) => m.fingerprint)?.fingerprint;
  if (!fingerprint) throw new Error('the SDP has no DTLS fingerprint');
  const setup = sdp.media.find((m) => m.setup)?.setup ?? sdp.setup;
  // actpass or active: the remote takes the DTLS client role and mediasoup is the server.
  const role = setup === 'passive' ? 'server' : 'client';
  return { role, fingerprints: [{ algorithm: fingerprint.type, value: fingerprint.hash }] };
}

/** The transport lines of every m-line: ICE (lite), DTLS and candidates. */
function transportLines(transport, setup) {
  const { usernameFragment, password } = transport.iceParameters;
  const fingerprint =
    transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  const lines = [
    `a=ice-ufrag:${usernameFragment}`,
    `a=ice-pwd:${password}`,
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
    `a=setup:${setup}`,
  ];
  for (const c of transport.iceCandidates) {
    lines.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}`);
  }
  lines.push('a=end-of-candidates');
  return lines;
}

/** The rtpmap, fmtp and rtcp-fb lines of `codecs` (mediasoup RtpCodecParameters). */
function codecLines(codecs) {
  const lines = [];
  for (const codec of codecs) {
    const name = codec.mimeType.split('/')[1];
    const channels = codec.channels > 1 ? `/${codec.channels}` : '';
    lines.push(`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`);
    const parameters = Object.entries(codec.parameters ?? {}).map(([k, v]) => `${k}=${v}`);
    if (parameters.length) lines.push(`a=fmtp:${codec.payloadType} ${parameters.join(';')}`);
    for (const fb of codec.rtcpFeedback ?? []) {
      lines.push(`a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    }
  }
  return lines;
}

function session(mids) {
  return [
    'v=0',
    `o=- ${Date.now()} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mids.join(' ')}`,
    'a=msid-semantic: WMS *',
  ];
}

const sdpText = (lines) => `${lines.join('\r\n')}\r\n`;

/** The producer's RTP parameters for one sending m-line of an offer, or null if it has none we take. */
function producerParameters(m) {
  const capability = router.rtpCapabilities.codecs.find((c) => c.kind === m.type && !c.mimeType.endsWith('/rtx'));
  const [, name] = capability.mimeType.split('/');
  const rtp = m.rtp.find(
    (r) => r.codec.toLowerCase() === name.toLowerCase() && r.rate === capability.clockRate && (m.type !== 'audio' || Number(r.encoding ?? 1) === capability.channels),
  );
  if (!rtp) return null;
  const fmtp = (payload) => sdpTransform.parseParams(m.fmtp?.find((f) => f.payload === payload)?.config ?? '');
  const feedback = (m.rtcpFb ?? [])
    .filter((fb) => fb.payload === rtp.payload || fb.payload === '*')
    .map((fb) => ({ type: fb.type, parameter: fb.subtype ?? '' }))
    .filter((fb) => capability.rtcpFeedback.some((c) => c.type === fb.type && c.parameter === fb.parameter));
  const codecs = [{ mimeType: capability.mimeType, payloadType: rtp.payload, clockRate: rtp.rate, parameters: fmtp(rtp.payload), rtcpFeedback: feedback }];
  if (capability.channels) codecs[0].channels = capability.channels;

  const ssrcs = [...new Set((m.ssrcs ?? []).map((s) => s.id))];
  if (!ssrcs.length) throw new Error(`m-line ${m.mid} sends no a=ssrc`);
  const encoding = { ssrc: Number(ssrcs[0]) };
  // RTX, when the offer pairs one with the media SSRC.
  const fid = (m.ssrcGroups ?? []).find((g) => g.semantics === 'FID');
  const rtx = m.rtp.find((r) => r.codec.toLowerCase() === 'rtx' && Number(fmtp(r.payload).apt) === rtp.payload);
  if (fid && rtx) {
    const [media, repair] = fid.ssrcs.split(' ').map(Number);
    encoding.ssrc = media;
    encoding.rtx = { ssrc: repair };
    codecs.push({ mimeType: `${m.type}/rtx`, payloadType: rtx.payload, clockRate: rtx.rate, parameters: { apt: rtp.payload }, rtcpFeedback: [] });
  }
  const cname = (m.ssrcs ?? []).find((s) => s.attribute === 'cname')?.value;
  const supported = router.rtpCapabilities.headerExtensions.filter((h) => h.kind === m.type);
  const headerExtensions = (m.ext ?? [])
    .filter((e) => supported.some((h) => h.uri === e.uri))
    .map((e) => ({ uri: e.uri, id: e.value, encrypt: false, parameters: {} }));
  return { mid: String(m.mid), codecs, headerExtensions, encodings: [encoding], rtcp: { cname, reducedSize: Boolean(m.rtcpRsize) } };
}

async function publish(state, offerSdp) {
  const offer = sdpTransform.parse(offerSdp);
  const transport = await newTransport();
  state.transports.push(transport);
  await transport.connect({ dtlsParameters: remoteDtls(offer) });
  const producers = [];
  const lines = session(offer.media.filter((m) => m.type !== 'application').map((m) => String(m.mid)));
  for (const m of offer.media) {
    if (m.type === 'application') {
      lines.push(`m=application 0 ${m.protocol} ${m.payloads}`, 'c=IN IP4 127.0.0.1', `a=mid:${m.mid}`);
      continue;
    }
    const sending = m.direction === 'sendonly' || m.direction === 'sendrecv';
    const parameters = sending ? producerParameters(m) : null;
    let codecs;
    let extensions = [];
    if (parameters) {
      const producer = await transport.produce({ kind: m.type, rtpParameters: parameters, appData: { publisher: transport.id } });
      producers.push(producer.id);
      codecs = parameters.codecs;
      extensions = parameters.headerExtensions;
    } else {
      // Nothing to receive on this m-line: keep it in the bundle, inactive, with our codec.
      const capability = router.rtpCapabilities.codecs.find((c) => c.kind === m.type);
      const rtp = m.rtp.find((r) => r.codec.toLowerCase() === capability.mimeType.split('/')[1].toLowerCase()) ?? m.rtp[0];
      codecs = [{ ...capability, payloadType: rtp.payload, parameters: {}, rtcpFeedback: [] }];
    }
    lines.push(
      `m=${m.type} 7 UDP/TLS/RTP/SAVPF ${codecs.map((c) => c.payloadType).join(' ')}`,
      'c=IN IP4 127.0.0.1',
      `a=mid:${m.mid}`,
      parameters ? 'a=recvonly' : 'a=inactive',
      'a=rtcp-mux',
      ...(m.rtcpRsize ? ['a=rtcp-rsize'] : []),
      ...codecLines(codecs),
      ...extensions.map((e) => `a=extmap:${e.id} ${e.uri}`),
      ...transportLines(transport, 'passive'),
    );
  }
  if (!producers.length) throw new Error('the offer sends nothing (no sendonly/sendrecv audio or video m-line with Opus or VP8)');
  return { answer: sdpText(lines), producers };
}

async function subscribe(state, producerIds) {
  if (!Array.isArray(producerIds) || !producerIds.length) throw new Error('"producers" must list producer ids');
  const transport = await newTransport();
  state.transports.push(transport);
  const consumers = [];
  for (const producerId of producerIds) {
    if (!router.canConsume({ producerId, rtpCapabilities: router.rtpCapabilities })) throw new Error(`cannot consume producer ${producerId}`);
    consumers.push(await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: false }));
  }
  const mids = consumers.map((c) => c.rtpParameters.mid);
  const lines = session(mids);
  for (const consumer of consumers) {
    const { mid, codecs, headerExtensions, encodings, rtcp } = consumer.rtpParameters;
    const msid = `${publishers.get(consumer.producerId) ?? consumer.producerId} ${consumer.producerId}`;
    const [{ ssrc, rtx }] = encodings;
    const ssrcLines = (s) => [`a=ssrc:${s} cname:${rtcp.cname}`, `a=ssrc:${s} msid:${msid}`];
    lines.push(
      `m=${consumer.kind} 7 UDP/TLS/RTP/SAVPF ${codecs.map((c) => c.payloadType).join(' ')}`,
      'c=IN IP4 127.0.0.1',
      `a=mid:${mid}`,
      'a=sendonly',
      `a=msid:${msid}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
      ...codecLines(codecs),
      ...headerExtensions.map((e) => `a=extmap:${e.id} ${e.uri}`),
      ...(rtx ? [`a=ssrc-group:FID ${ssrc} ${rtx.ssrc}`] : []),
      ...ssrcLines(ssrc),
      ...(rtx ? ssrcLines(rtx.ssrc) : []),
      ...transportLines(transport, 'actpass'),
    );
  }
  state.pending = transport;
  return { offer: sdpText(lines) };
}

async function answer(state, answerSdp) {
  if (!state.pending) throw new Error('no subscribe awaits an answer');
  const transport = state.pending;
  state.pending = null;
  await transport.connect({ dtlsParameters: remoteDtls(sdpTransform.parse(answerSdp)) });
  return { ok: true };
}

async function handle(state, request) {
  switch (request.request) {
    case 'publish':
      return publish(state, request.sdp);
    case 'subscribe':
      return subscribe(state, request.producers);
    case 'answer':
      return answer(state, request.sdp);
    default:
      throw new Error(`unknown request ${JSON.stringify(request.request)}`);
  }
}

// Which stream id (the publishing transport) each producer belongs to, for subscribers' msid.
const publishers = new Map();
router.observer.on('newtransport', (transport) =>
  transport.observer.on('newproducer', (producer) => {
    publishers.set(producer.id, producer.appData.publisher);
    producer.observer.on('close', () => publishers.delete(producer.id));
  }),
);

const server = new WebSocketServer({ host: '127.0.0.1', port });
server.on('connection', (socket) => {
  const state = { transports: [], pending: null };
  let queue = Promise.resolve();
  socket.on('message', (data) => {
    queue = queue.then(async () => {
      let request = {};
      let reply;
      try {
        request = JSON.parse(data.toString());
        reply = { id: request.id, ...(await handle(state, request)) };
      } catch (error) {
        reply = { id: request.id, error: String(error?.message ?? error) };
      }
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(reply));
    });
  });
  socket.on('close', () => queue.then(() => state.transports.forEach((t) => t.close())));
});
server.on('listening', () => console.log(`listening ${port} worker ${worker.pid}`));
