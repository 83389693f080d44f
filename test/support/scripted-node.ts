import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import type {
  Envelope,
  HandshakeJoin,
  HandshakeRoom,
  RoomAck,
  RoomPosition,
} from '../../src/protocol/index.js';

/** A `subscribe` a scripted node received, for the test to answer (or not). */
export interface SubscribeCall {
  socket: Socket;
  room: string;
  since: RoomPosition | undefined;
  answer: (ack: RoomAck) => void;
}

/**
 * A stand-in for a push node whose answers the test scripts: it welcomes every connection as a
 * guest (or as `user`), records every `subscribe` and hands it to the test, and sends room
 * messages with whatever offsets and epochs the test chooses (to every connection, or to those
 * its answers joined to the room and no `unsubscribe` took out). For driving the client library into
 * the situations a real node only reaches under load (late or lost acks, skipped offsets, a new
 * epoch).
 */
export class ScriptedNode {
  readonly subscribes: SubscribeCall[] = [];
  /** Answers each `subscribe` as it arrives; by default at once, at offset 0 of `E1`. */
  onSubscribe: (call: SubscribeCall) => void = (call) =>
    call.answer({ ok: true, room: call.room, offset: 0, epoch: 'E1' });
  /** The rooms of every `unsubscribe` received, in order. */
  readonly unsubscribes: string[] = [];
  /** How long admitting a connection takes (the `connect` is answered after it). */
  admissionDelayMs = 0;
  /** The rooms each connection asked for in its handshake (`auth.rooms`), in order. */
  readonly handshakes: HandshakeRoom[][] = [];
  /**
   * The answers a connection's welcome carries for its handshake rooms; by default none (a node
   * that does not join rooms at the handshake). Whatever it sends the socket goes before the
   * welcome.
   */
  onHandshake: (socket: Socket, rooms: HandshakeRoom[]) => HandshakeJoin[] | undefined = () =>
    undefined;

  private constructor(
    readonly io: Server,
    readonly url: string,
    /** Who the next connections are welcomed as (`undefined`: each a guest). */
    public user: string | undefined,
  ) {}

  /** Starts a node on a free loopback port; its connections are welcomed as `user` (a guest by default). */
  static async start(user?: string): Promise<ScriptedNode> {
    const http = createServer();
    const io = new Server(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const node = new ScriptedNode(io, `http://127.0.0.1:${port}`, user);
    io.use((_socket, next) => {
      if (node.admissionDelayMs === 0) next();
      else setTimeout(next, node.admissionDelayMs);
    });
    io.on('connection', (socket) => {
      socket.on('subscribe', (room: string, ...rest: unknown[]) => {
        const reply = rest.at(-1) as (ack: RoomAck) => void;
        const answer = (ack: RoomAck) => {
          if (ack.ok) socket.join(room);
          reply(ack);
        };
        const options = rest.length > 1 ? (rest[0] as { since?: RoomPosition }) : undefined;
        const call: SubscribeCall = { socket, room, since: options?.since, answer };
        node.subscribes.push(call);
        node.onSubscribe(call);
      });
      socket.on('unsubscribe', (room: string, answer: (ack: RoomAck) => void) => {
        node.unsubscribes.push(room);
        socket.leave(room);
        answer({ ok: true, room });
      });
      const asked = (socket.handshake.auth.rooms ?? []) as HandshakeRoom[];
      node.handshakes.push(asked);
      const joined = node.onHandshake(socket, asked);
      for (const { room, ack } of joined ?? []) if (ack.ok) socket.join(room);
      socket.emit('welcome', {
        node: 'scripted',
        sid: socket.id,
        user: node.user ?? `guest-${socket.id}`,
        guest: node.user === undefined,
        ...(joined === undefined ? {} : { joined }),
      });
    });
    return node;
  }

  /** The connections open now. */
  get sockets(): Socket[] {
    return [...this.io.of('/').sockets.values()];
  }

  /** Sends `room`'s message `offset` of `epoch` to `socket` (default: every connection). */
  send(room: string, offset: number, epoch = 'E1', socket?: Socket): void {
    const envelope = ScriptedNode.envelope(room, offset, epoch);
    for (const target of socket === undefined ? this.sockets : [socket]) {
      target.emit('message', envelope);
    }
  }

  /** `room`'s message `offset` of `epoch`, as the node sends it. */
  static envelope(room: string, offset: number, epoch = 'E1'): Envelope {
    return {
      id: `${epoch}-${offset}`,
      room,
      data: offset,
      node: 'scripted',
      ts: Date.now(),
      offset,
      epoch,
    };
  }

  /** Sends `room`'s message `offset` of `epoch` to the connections in the room (joined by an answer `ok`). */
  publish(room: string, offset: number, epoch = 'E1'): void {
    this.io.to(room).emit('message', ScriptedNode.envelope(room, offset, epoch));
  }

  /** Sends offsets `from`…`to` of `room`, in order. */
  sendRange(room: string, from: number, to: number, epoch = 'E1', socket?: Socket): void {
    for (let offset = from; offset <= to; offset++) this.send(room, offset, epoch, socket);
  }

  /** Drops every connection from the server side (the clients reconnect). */
  dropConnections(): void {
    // A transport close, as a draining or dying node gives: the client reconnects by itself.
    for (const socket of this.sockets) socket.conn.close();
  }

  async close(): Promise<void> {
    await this.io.close();
  }
}
