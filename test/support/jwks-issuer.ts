import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  GenericContainer,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import type { TokenGrant } from '../../src/auth/token-signer.js';

/** An identity provider for a test network: its JWKS served by a container, its signing key here. */
export interface JwksIssuer {
  /** Where nodes on the network fetch the key set (`AUTH_JWKS_URL`). */
  url: string;
  container: StartedTestContainer;
  /** An RS256 token signed with the key set's key; by default a fresh user who may do anything. */
  sign(grant?: Partial<TokenGrant>): Promise<string>;
}

const KEY_ID = 'test-issuer-1';
let users = 0;

/**
 * Generates an RS256 key pair and serves its public half as a JWKS from a container named `jwks`
 * on `network` (Node's own HTTP server in the node image: no other image needed).
 */
export async function startJwksIssuer(network: StartedNetwork): Promise<JwksIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' }],
  });
  const server =
    "require('node:http').createServer((req, res) => { if (req.url !== '/jwks.json') { res.writeHead(404).end(); return; } " +
    "res.writeHead(200, { 'content-type': 'application/json' }).end(process.env.JWKS); }).listen(8080, () => console.log('jwks ready'))";
  const container = await new GenericContainer('node:24-bookworm-slim')
    .withNetwork(network)
    .withNetworkAliases('jwks')
    .withEnvironment({ JWKS: jwks })
    .withCommand(['node', '-e', server])
    .withWaitStrategy(Wait.forLogMessage('jwks ready'))
    .start();
  return {
    url: 'http://jwks:8080/jwks.json',
    container,
    sign: (grant = {}) => {
      const {
        sub = `user-${++users}`,
        rooms = ['*'],
        publish = ['*'],
        admin = false,
        ttlSeconds = 3600,
      } = grant;
      const issuedAt = Math.floor(Date.now() / 1000);
      return new SignJWT({ rooms: [...rooms], publish: [...publish], ...(admin ? { admin } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: KEY_ID })
        .setSubject(sub)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + ttlSeconds)
        .sign(privateKey);
    },
  };
}
