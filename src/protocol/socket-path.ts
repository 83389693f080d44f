/** Socket.IO's HTTP path, on every node and through nginx (`location /socket.io/`). */
export const SOCKET_PATH = '/socket.io/';
