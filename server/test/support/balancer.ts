// A tiny TCP balancer for client tests: each connection goes to the first backend port that
// accepts it, so a client reconnecting after its node died lands on the next one. The server is
// pushed to `servers` for the caller to close.
import { createServer, connect as tcpConnect, type Server, type Socket as TcpSocket } from 'node:net';

export function balancer(ports: number[], servers: Server[]): Promise<string> {
  const server = createServer((downstream) => {
    const tryBackend = (i: number) => {
      if (i >= ports.length) return downstream.destroy();
      const upstream: TcpSocket = tcpConnect(ports[i]!, '127.0.0.1');
      upstream.once('error', () => (upstream.destroy(), downstream.readyState === 'open' && !downstream.bytesWritten ? tryBackend(i + 1) : downstream.destroy()));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        downstream.pipe(upstream).pipe(downstream);
        const close = () => (upstream.destroy(), downstream.destroy());
        upstream.on('error', close).on('close', close);
        downstream.on('error', close).on('close', close);
      });
    };
    downstream.on('error', () => downstream.destroy());
    tryBackend(0);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}
