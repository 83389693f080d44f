// The page's side: subscribe to the room with the cluster's own client (/push-client.js), list
// what arrives, and hand the form's text to the Flask server, which publishes it.
const { pushUrl, room } = document.body.dataset;
const { PushClient } = await import(`${pushUrl}/push-client.js`);
const client = new PushClient(pushUrl);
const status = document.getElementById('status');
client.onStatus((state) => {
  status.textContent = `${state.state}${state.node ? ` to ${state.node}` : ''}`;
  status.dataset.node = state.node ?? '';
  status.dataset.state = state.state;
});
client.on('chat', (message) => {
  const item = document.createElement('li');
  item.textContent = `${message.data.text} (via ${message.node})`;
  document.getElementById('messages').append(item);
});
await client.subscribe(room);
document.body.dataset.subscribed = 'true';
document.getElementById('send').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('text');
  const answer = await fetch('/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: input.value }),
  });
  if (answer.ok) input.value = '';
  else status.textContent = `not sent: ${(await answer.json()).status ?? answer.status}`;
});
