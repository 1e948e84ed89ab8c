// Node `ws` as a peer of wsmachine, for scripts/interop.sh.
//
// client URL: connects to a wsmachine echo server and checks text, binary, ping, a 1 MiB
// message and a close with code 4000.
// server PORT: an echo server; the message "close-4001" makes it close with code 4001.
// With EXPECT_DEFLATE=1 the client offers permessage-deflate and checks it was accepted.
'use strict';
const WebSocket = require('ws');

function fail(message) {
  console.error(`node client: ${message}`);
  process.exit(1);
}

function client(url) {
  const deflate = Boolean(process.env.EXPECT_DEFLATE);
  const ws = new WebSocket(url, { perMessageDeflate: deflate });
  const big = 'x'.repeat(1 << 20);
  const expected = ['héllo wörld', Buffer.from([...Array(256).keys()]), big];
  let step = 0;
  const timer = setTimeout(() => fail('timed out'), 10000);
  ws.on('upgrade', (response) => {
    if (deflate) console.log(`node client: accepted ${response.headers['sec-websocket-extensions']}`);
  });
  ws.on('open', () => {
    if (deflate && !ws.extensions.startsWith('permessage-deflate')) {
      fail(`not compressed: ${JSON.stringify(ws.extensions)}`);
    }
    ws.send(expected[0]);
    ws.send(expected[1]);
    ws.ping(Buffer.from('rtt'));
    ws.send(expected[2]);
  });
  let ponged = false;
  ws.on('pong', (data) => { ponged = data.toString() === 'rtt'; });
  ws.on('message', (data, isBinary) => {
    const want = expected[step++];
    const got = isBinary ? data : data.toString();
    if (Buffer.isBuffer(want) ? !want.equals(got) : want !== got) fail(`message ${step} differs`);
    if (step === expected.length) ws.close(4000, 'bye');
  });
  ws.on('close', (code) => {
    clearTimeout(timer);
    if (code !== 4000) fail(`close code ${code}`);
    if (!ponged) fail('no pong');
    console.log('node client: ok');
  });
  ws.on('error', (error) => fail(error.message));
}

function server(port) {
  const perMessageDeflate = Boolean(process.env.EXPECT_DEFLATE);
  const wss = new WebSocket.Server({ host: '127.0.0.1', port: Number(port), perMessageDeflate });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-4001') ws.close(4001, 'requested');
      else ws.send(data, { binary: isBinary });
    });
  });
  wss.on('listening', () => console.log('node server: listening'));
}

({ client, server })[process.argv[2]](process.argv[3]);
