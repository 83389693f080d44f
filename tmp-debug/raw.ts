import WebSocket from 'ws';
import { startInProcessNode } from '../test/support/in-process-node.js';
import { testToken } from '../test/support/tokens.js';
const node = await startInProcessNode({ NODE_ID: 'raw', ALLOW_GUESTS: 'false' });
const token = await testToken({ publish: ['chat:*'] });
async function probe(name: string, frames: Array<string | Buffer>, connect = true) {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const got: string[] = [];
  let closed = '';
  ws.on('message', (d, isBinary) => got.push(isBinary ? `<bin ${String(d.length)}>` : String(d)));
  ws.on('close', (code) => { closed = `close ${code}`; });
  await new Promise((r) => ws.once('open', r));
  if (connect) { ws.send(`40${JSON.stringify({ token })}`); await new Promise((r) => setTimeout(r, 100)); }
  for (const f of frames) ws.send(f);
  await new Promise((r) => setTimeout(r, 300));
  console.log(name, JSON.stringify(got.slice(connect ? 2 : 1)).slice(0, 200), closed);
  ws.terminate();
}
await probe('garbage engine packet', ['x']);
await probe('bad json event', ['42["subscribe",']);
await probe('non-array event', ['42{"a":1}']);
await probe('event before connect', ['420["subscribe","r"]'], false);
await probe('bad connect auth', ['40{bad'], false);
await probe('unknown namespace', ['40/admin,'], false);
await probe('binary garbage', [Buffer.from([1, 2, 3, 255])]);
await probe('oversized', [`42${JSON.stringify(['publish', { room: 'chat:1', data: 'x'.repeat(200_000) }])}`]);
await probe('attachment count lie', ['451-0["publish",{"_placeholder":true,"num":0}]']);
await probe('attachment then text', ['451-0["publish",{"room":"chat:1","data":{"_placeholder":true,"num":0}}]', Buffer.from([1,2,3])]);
await probe('ack id huge', ['4299999999999999999999["subscribe","r"]']);
await probe('event name number', ['420[42,"r"]']);
await probe('event empty array', ['420[]']);
await probe('binary event type mismatch', ['450-0["publish",1]']);
await probe('disconnect packet', ['41']);
await probe('ping packet from client', ['2']);
await probe('upgrade packet', ['5']);
await probe('noop', ['6']);
await node.server.close();
