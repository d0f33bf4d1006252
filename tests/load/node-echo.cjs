// An echo server on Node's ws (tests/interop/node/node_modules), for tests/load/echo-bench.sh:
// prints "listening on 127.0.0.1:PORT" and sends every message back as it came.
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '../interop/node/node_modules/ws'));
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('listening', () => console.log(`listening on 127.0.0.1:${wss.address().port}`));
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
